//! Training steps read nothing back to the host: loss, accuracy and the non-finite guard stay
//! on the device until the epoch's read (or the progress bar's, at most once a second), which
//! still names the first step whose loss or gradient norm is NaN or infinite.

mod common;

use burn::tensor::{Device, Tensor};
use common::{class_labels, random, serial};
use ista_nas::IstaError;
use ista_nas::data::embedded;
use ista_nas::search::config::{Method, SearchConfig};
use ista_nas::search::trainer::Searcher;
use ista_nas::step_metrics::{StepMetrics, StepOutcome, host_reads};

fn outcome(loss: f32, right: f32, norm: f32, device: &Device) -> StepOutcome {
    StepOutcome {
        loss: Tensor::from_floats([loss], device),
        count: 4,
        right: Tensor::from_floats([right], device),
        norm: Some(Tensor::from_floats([norm], device)),
    }
}

#[test]
fn the_epochs_read_checks_every_step_and_names_the_first_bad_one() {
    let _serial = serial(); // the read counter is the process's
    let device = Device::flex();
    let mut metrics = StepMetrics::new(2, "test run");
    let before = host_reads();
    metrics.add(outcome(1.0, 2.0, 0.5, &device));
    metrics.add(outcome(3.0, 4.0, 0.5, &device));
    assert_eq!(host_reads(), before, "adding steps reads nothing");
    let stats = metrics.finish().unwrap();
    assert_eq!(host_reads(), before + 1, "one read for the epoch");
    assert!((stats.loss() - 2.0).abs() < 1e-9 && (stats.accuracy() - 0.75).abs() < 1e-9);

    for (bad, what) in [
        (
            outcome(f32::NAN, 0.0, 0.5, &device),
            "the training loss is NaN",
        ),
        (
            outcome(1.0, 0.0, f32::INFINITY, &device),
            "the gradient norm is inf",
        ),
    ] {
        let mut metrics = StepMetrics::new(2, "test run");
        metrics.add(outcome(1.0, 2.0, 0.5, &device));
        metrics.add(outcome(1.0, 2.0, 0.5, &device));
        metrics.add(bad);
        metrics.add(outcome(f32::NAN, 2.0, f32::NAN, &device)); // later steps inherit it
        let err = metrics.finish().unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, IstaError::NonFinite(_)), "{message}");
        assert!(message.contains(what), "{message}");
        assert!(
            message.contains("at epoch 2, step 3 of the test run"),
            "{message}"
        );
    }
}

/// Architecture and weight steps of each search method issue no host read; their values read
/// afterwards are finite.
#[test]
fn search_steps_issue_no_host_read() {
    let _serial = serial(); // the read counter is the process's
    let splits = embedded().unwrap();
    let (weights, arch) = splits.train.slice(0..64).split_half();
    for method in [Method::Ista, Method::Darts] {
        let mut config = SearchConfig {
            channels: 4,
            layers: 3,
            batch_size: 8,
            ..SearchConfig::preset("paper", method).unwrap()
        };
        config.data.train_images = Some(64);
        let mut searcher =
            Searcher::new(config, weights.clone(), arch.clone(), 10, &Device::flex()).unwrap();
        let device = searcher.device.clone();
        let mut metrics = StepMetrics::new(1, "search");
        let before = host_reads();
        for step in 0..3u64 {
            let x = random([8, 1, 28, 28], 10 + step, &device);
            searcher
                .arch_step(x, class_labels(8, 3, step, &device))
                .unwrap();
            let x = random([8, 1, 28, 28], 20 + step, &device);
            let y = class_labels(8, 3, step + 5, &device);
            metrics.add(searcher.weight_step(x, y, 0.025).unwrap());
        }
        assert_eq!(
            host_reads(),
            before,
            "{method:?}: a step read from the device"
        );
        let stats = metrics.finish().unwrap();
        assert!(stats.loss().is_finite() && stats.loss() > 0.0, "{method:?}");
    }
}
