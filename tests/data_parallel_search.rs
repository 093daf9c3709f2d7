//! Data-parallel search equals one device: architecture and weight steps with each batch split
//! over two replicas give the losses, weights and architecture parameters of one supernet that
//! runs the same shares and steps once on the gradient of their weighted sum (two-stage
//! ISTA-NAS, DARTS, PC-DARTS; CPU-backend replicas).

mod common;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor};
use common::{class_labels, max_abs_diff, random, trainable};
use ista_nas::data::embedded;
use ista_nas::devices::parallel::shares;
use ista_nas::search::config::{Method, SearchConfig};
use ista_nas::search::darts_supernet::DartsSupernet;
use ista_nas::search::ista_supernet::IstaSupernet;
use ista_nas::search::supernet::Supernet;
use ista_nas::search::trainer::Searcher;

/// (weights, architecture) of a supernet.
fn values(net: &dyn Supernet) -> (Vec<f32>, Vec<f32>) {
    if let Some(ista) = net.as_any().downcast_ref::<IstaSupernet>() {
        return (trainable(&ista.model), trainable(&ista.arch));
    }
    let darts: &DartsSupernet = net.as_any().downcast_ref().unwrap();
    (trainable(&darts.model), trainable(&darts.alphas))
}

/// The mean loss over `x` as one device sees it when it runs the same shares: the shares'
/// mean losses weighted by their sizes, in one graph.
fn weighted(net: &dyn Supernet, x: Tensor<4>, y: Tensor<1, Int>, fixed_arch: bool) -> Tensor<1> {
    let loss = CrossEntropyLossConfig::new().init(&x.device());
    let batch = y.dims()[0];
    let (mut total, mut start): (Option<Tensor<1>>, usize) = (None, 0);
    for size in shares(batch, 2) {
        let logits = net
            .logits(x.clone().narrow(0, start, size), fixed_arch)
            .unwrap();
        let l =
            loss.forward(logits, y.clone().narrow(0, start, size)) * (size as f32 / batch as f32);
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
        start += size;
    }
    total.unwrap()
}

/// Holds the tests of this file one at a time: the CPU backend's threaded reductions split
/// their work differently while another test shares its threads, which moves the f32 results.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn compare(method: Method) {
    let mut config = SearchConfig {
        method,
        channels: 4,
        layers: 3,
        batch_size: 10,
        ..SearchConfig::paper()
    };
    config.data.train_images = Some(64);
    let splits = embedded().unwrap();
    let (weights, arch) = splits.train.slice(0..64).split_half();
    let cpu = Device::flex();
    let mut parallel =
        Searcher::new(config.clone(), weights.clone(), arch.clone(), 10, &cpu).unwrap();
    let mut reference = Searcher::new(config.clone(), weights, arch, 10, &cpu).unwrap();
    let device = reference.device.clone();
    reference
        .net
        .restore(parallel.net.records().unwrap(), &device)
        .unwrap();
    parallel.use_devices(&[cpu]).unwrap();
    let (start_w, start_a) = values(parallel.net.as_ref());
    let lr = 0.05;
    for step in 0..3u64 {
        let (xa, ya) = (
            random([10, 1, 28, 28], 10 + step, &device),
            class_labels(10, 3, step, &device),
        );
        let (xw, yw) = (
            random([10, 1, 28, 28], 20 + step, &device),
            class_labels(10, 3, step + 5, &device),
        );
        parallel.arch_step(xa.clone(), ya.clone()).unwrap();
        let loss = parallel
            .weight_step(xw.clone(), yw.clone(), lr)
            .unwrap()
            .loss;
        let loss = loss.into_scalar::<f32>() as f64;

        let total = weighted(reference.net.as_ref(), xa, ya, false);
        reference
            .net
            .step_arch(total, &mut reference.arch_optim, config.arch.arch_lr);
        let total = weighted(reference.net.as_ref(), xw, yw, true);
        let expected = total.clone().into_scalar::<f32>() as f64;
        reference
            .net
            .step_weights(total, &mut reference.weight_optim, lr, config.sgd.grad_clip);
        let diff = (loss - expected).abs() / expected;
        assert!(
            diff < 1e-5,
            "{method:?} step {step}: loss {loss} vs {expected}"
        );
    }
    let (pw, pa) = values(parallel.net.as_ref());
    let (rw, ra) = values(reference.net.as_ref());
    assert!(pw.len() > 1000 && !pa.is_empty());
    let (dw, da) = (max_abs_diff(&pw, &rw), max_abs_diff(&pa, &ra));
    eprintln!(
        "{method:?}, 2 CPU replicas, 3 search steps: weights max |Δ| {dw:.2e}, architecture max |Δ| {da:.2e}"
    );
    // two replicas add the same two gradient terms as the reference's one graph: exact
    assert_eq!((dw, da), (0.0, 0.0), "{method:?} weights, architecture");
    // Both moved, so the comparison is not of two untouched copies.
    assert!(
        max_abs_diff(&pw, &start_w) > 1e-4,
        "{method:?}: weights moved"
    );
    assert!(
        max_abs_diff(&pa, &start_a) > 1e-6,
        "{method:?}: architecture moved"
    );
}

#[test]
fn ista_search_on_two_replicas_steps_as_one_device() {
    let _alone = alone();
    compare(Method::Ista);
}

#[test]
fn darts_search_on_two_replicas_steps_as_one_device() {
    let _alone = alone();
    compare(Method::Darts);
}

#[test]
fn pc_darts_search_on_two_replicas_steps_as_one_device() {
    let _alone = alone();
    compare(Method::PcDarts);
}

#[test]
fn one_stage_search_on_two_replicas_steps_as_one_device() {
    let _alone = alone();
    use burn::optim::GradientsParams;
    use ista_nas::model::drop_path::DropPath;
    use ista_nas::search::one_stage::config::OneStageConfig;
    use ista_nas::search::one_stage::trainer::OneStageSearch;
    use ista_nas::storage::records::{load_module, module_bytes};

    let mut config = OneStageConfig {
        layers: 3,
        batch_size: 10,
        ..OneStageConfig::quick()
    };
    config.data.train_images = Some(40);
    let splits = embedded().unwrap();
    let (train, test) = (splits.train.slice(0..40), splits.test.slice(0..20));
    let names = splits.class_names.clone();
    let cpu = Device::flex();
    let mut parallel = OneStageSearch::new(
        config.clone(),
        train.clone(),
        test.clone(),
        names.clone(),
        &cpu,
    )
    .unwrap();
    let mut reference = OneStageSearch::new(config.clone(), train, test, names, &cpu).unwrap();
    let bytes = module_bytes(&parallel.net.model, "model").unwrap();
    reference.net.model = load_module(reference.net.model.clone(), bytes, "model").unwrap();
    let bytes = module_bytes(&parallel.net.arch, "b").unwrap();
    reference.net.arch = load_module(reference.net.arch.clone(), bytes, "b").unwrap();
    parallel.use_devices(&[cpu]);
    let (start_w, start_b) = (
        trainable(&parallel.net.model),
        trainable(&parallel.net.arch),
    );
    let device = reference.device.clone();
    let loss = CrossEntropyLossConfig::new().init(&device);
    let lr = 0.1;
    for step in 0..3u64 {
        let (x, y) = (
            random([10, 1, 28, 28], 30 + step, &device),
            class_labels(10, 3, step, &device),
        );
        let value = parallel
            .step(x.clone(), y.clone(), lr, &mut DropPath::new(0.0, 0))
            .unwrap()
            .loss
            .into_scalar::<f32>() as f64;

        let mut total: Option<Tensor<1>> = None;
        let mut start = 0;
        for size in shares(10, 2) {
            let (normal, reduce) = reference.net.node_weights(true);
            let xs = x.clone().narrow(0, start, size);
            let (logits, _) = reference
                .net
                .model
                .forward_train(xs, &normal, &reduce, None, &mut 0)
                .unwrap();
            let l = loss.forward(logits, y.clone().narrow(0, start, size)) * (size as f32 / 10.0);
            total = Some(match total {
                Some(t) => t + l,
                None => l,
            });
            start += size;
        }
        let total = total.unwrap();
        let expected = total.clone().into_scalar::<f32>() as f64;
        let mut grads = total.backward();
        let b = GradientsParams::from_module(&mut grads, &reference.net.arch);
        let w = GradientsParams::from_module(&mut grads, &reference.net.model);
        let arch = reference.net.arch.clone();
        reference.net.arch = reference
            .arch_optim
            .step(config.arch.arch_lr, arch, b, None)
            .0;
        let model = reference.net.model.clone();
        let clip = Some(config.sgd.grad_clip);
        reference.net.model = reference.weight_optim.step(lr, model, w, clip).0;
        assert!(
            (value - expected).abs() / expected < 1e-5,
            "step {step}: {value} vs {expected}"
        );
    }
    let (pw, pb) = (
        trainable(&parallel.net.model),
        trainable(&parallel.net.arch),
    );
    let (rw, rb) = (
        trainable(&reference.net.model),
        trainable(&reference.net.arch),
    );
    let (dw, db) = (max_abs_diff(&pw, &rw), max_abs_diff(&pb, &rb));
    eprintln!("one-stage, 2 CPU replicas, 3 steps: weights max |Δ| {dw:.2e}, b max |Δ| {db:.2e}");
    assert_eq!((dw, db), (0.0, 0.0), "weights, b");
    assert!(max_abs_diff(&pw, &start_w) > 1e-4, "weights moved");
    assert!(max_abs_diff(&pb, &start_b) > 1e-7, "b moved");
}
