//! w = bᵀA_S − bias: the formula of spec §3 and the gradient that reaches b.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::host;
use ista_nas::sparse::lasso::{FistaOptions, solve_cpu};
use ista_nas::sparse::measurement::{MeasurementKind, draw};
use ista_nas::sparse::support::NodeSupport;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

fn node(seed: u64) -> (NodeSupport, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = draw(MeasurementKind::Uniform, 7, 21, &mut rng);
    let b: Vec<f64> = (0..7)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let z = solve_cpu(&a, &b, &FistaOptions::default()).unwrap().z;
    (NodeSupport::new(&a, &z, 2), b)
}

#[test]
fn weights_equal_z_plus_correction_on_support_and_zero_off_it() {
    let (sup, b) = node(1);
    let w = sup.weights_f64(&b);
    // w_S = z_S + A_Sᵀ(b − A_S z_S)
    let resid: Vec<f64> = b
        .iter()
        .zip(sup.a_s.mul_vec(&sup.z_s))
        .map(|(b, az)| b - az)
        .collect();
    let corr = sup.a_s.t_mul_vec(&resid);
    for k in 0..w.len() {
        if sup.support.contains(&k) {
            assert!((w[k] - (sup.z_s[k] + corr[k])).abs() <= 1e-12, "k={k}");
        } else {
            assert_eq!(w[k], 0.0, "k={k}");
        }
    }
    // On the recovered z itself, w_S ≈ z_S plus the LASSO's own residual correlation.
    let device = Device::flex();
    let on_device = host(sup.to_tensors(&device).weights(tensor(&b, &device)));
    for (got, want) in on_device.iter().zip(&w) {
        assert!((*got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()));
    }
}

fn tensor(values: &[f64], device: &Device) -> Tensor<1> {
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [values.len()]), device)
}

/// L(w) = Σ c_k w_k + Σ w_k², so ∂L/∂w = c + 2w, and ∂L/∂b must be A_S (c + 2w).
fn loss(w: Tensor<1>, c: &Tensor<1>) -> Tensor<1> {
    (w.clone() * c.clone()).sum() + (w.clone() * w).sum()
}

#[test]
fn gradient_reaches_b_as_a_s_times_dl_dw() {
    let (sup, b) = node(2);
    let device = Device::flex().autodiff();
    let consts = sup.to_tensors(&device);
    let mut rng = StdRng::seed_from_u64(3);
    let c_host: Vec<f64> = (0..sup.a_s.cols)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let c = tensor(&c_host, &device);

    let b_t = tensor(&b, &device).require_grad();
    let grads = loss(consts.weights(b_t.clone()), &c).backward();
    let grad_b = host(b_t.grad(&grads).expect("b has a gradient"));

    let w = sup.weights_f64(&b);
    let dl_dw: Vec<f64> = c_host.iter().zip(&w).map(|(c, w)| c + 2.0 * w).collect();
    let analytic = sup.a_s.mul_vec(&dl_dw);
    let l_of = |b: &[f64]| -> f64 {
        sup.weights_f64(b)
            .iter()
            .zip(&c_host)
            .map(|(w, c)| c * w + w * w)
            .sum()
    };
    for i in 0..b.len() {
        let h = 1e-4;
        let (mut plus, mut minus) = (b.clone(), b.clone());
        plus[i] += h;
        minus[i] -= h;
        let fd = (l_of(&plus) - l_of(&minus)) / (2.0 * h);
        assert!(
            (fd - analytic[i]).abs() <= 1e-6 * (1.0 + fd.abs()),
            "b[{i}]: fd {fd}, A_S·dL/dw {}",
            analytic[i]
        );
        let got = grad_b[i] as f64;
        assert!(
            (got - fd).abs() <= 1e-3 * (1.0 + fd.abs()),
            "b[{i}]: autodiff {got}, fd {fd}"
        );
    }
}
