//! The schedules and protocols as the reference code runs them: when the cosine scheduler
//! steps, η_min, PC-DARTS's architecture warm-up, the ImageNet schedule, and CIFAR-10's fixed
//! normalisation.

use ista_nas::data::{Splits, cifar10_normalization, embedded, imagenet_normalization};
use ista_nas::devices::adapter::{DeviceChoice, select_device};
use ista_nas::search::config::{Method, SearchConfig};
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::search::trainer::Searcher;
use ista_nas::search_space::genotype::Genotype;
use ista_nas::step_metrics::StepControl;
use ista_nas::train::config::TrainConfig;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// PyTorch's `CosineAnnealingLR` after `t` steps.
fn torch_cosine(peak: f64, min: f64, t: usize, total: usize) -> f64 {
    min + (peak - min) * (1.0 + (std::f64::consts::PI * t as f64 / total as f64).cos()) / 2.0
}

/// The evaluation script calls `scheduler.step()` before each epoch: epoch e trains at
/// η(e + 1), the last epoch at η_min (0), never at the full 0.025.
#[test]
fn cifar_training_steps_its_cosine_before_each_epoch() {
    let cifar = TrainConfig::cifar(Genotype::builtin("ISTA_NAS").unwrap());
    for e in [0, 1, 299, 598, 599] {
        assert!(
            close(cifar.lr_at(e), torch_cosine(0.025, 0.0, e + 1, 600)),
            "{e}"
        );
    }
    assert!(cifar.lr_at(0) < 0.025);
    assert!(cifar.lr_at(599).abs() < 1e-15);
    assert!(close(cifar.lr_at(299), 0.0125));
}

/// The search scripts (ISTA-NAS's inner trainer and DARTS's train_search) step at the start of
/// each epoch too, with η_min = 0.001 whatever the batch size; only the peak rate is per image.
#[test]
fn searches_step_their_cosine_before_each_epoch_to_an_unscaled_minimum() {
    let ista = SearchConfig::paper();
    assert_eq!((ista.epochs, ista.batch_size), (50, 256));
    for e in [0, 24, 49] {
        assert!(close(ista.lr_at(e), torch_cosine(0.1, 0.001, e + 1, 50)));
    }
    assert!(close(ista.lr_at(49), 0.001));
    let darts = SearchConfig::preset("paper", Method::Darts).unwrap();
    assert_eq!(darts.batch_size, 64);
    assert!(close(darts.lr_at(0), torch_cosine(0.025, 0.001, 1, 50)));
    assert!(
        close(darts.lr_at(49), 0.001),
        "η_min is not scaled with the batch"
    );
}

/// The one-stage script steps its scheduler at the end of each training epoch: training epoch
/// e runs at η(e), the first at the full rate.
#[test]
fn one_stage_training_steps_its_cosine_after_each_epoch() {
    let c = OneStageConfig::paper();
    assert!(close(c.lr_at(0), c.sgd.lr));
    assert!(close(
        c.lr_at(1),
        torch_cosine(c.sgd.lr, c.sgd.lr_min, 1, c.epochs)
    ));
    assert!(c.lr_at(c.epochs - 1) > c.sgd.lr_min);
}

/// The ImageNet script: 5 warm-up epochs at 0.5 · (e + 1) / 5, then 0.5 · (245 − e) / 245,
/// and over the last 5 epochs the smaller slope 0.5 · (250 − e) / (245 · 5).
#[test]
fn imagenet_schedule_is_the_reference_one() {
    let c = TrainConfig::imagenet(Genotype::builtin("ISTA_NAS_IMAGENET").unwrap());
    for e in 0..250 {
        let e_f = e as f64;
        let expected = if e < 5 {
            0.5 * (e_f + 1.0) / 5.0
        } else if 250 - e > 5 {
            0.5 * (245.0 - e_f) / 245.0
        } else {
            0.5 * (250.0 - e_f) / (245.0 * 5.0)
        };
        assert!(close(c.lr_at(e), expected), "epoch {e}: {}", c.lr_at(e));
    }
    assert!(close(c.lr_at(4), 0.5));
    assert!(close(c.lr_at(5), 0.5 * 240.0 / 245.0));
    assert!(close(c.lr_at(249), 0.5 / 1225.0));
}

/// PC-DARTS's paper preset takes no architecture step in its first 15 epochs; the others start
/// at once; a warm-up as long as the run is refused.
#[test]
fn pc_darts_warms_up_for_fifteen_epochs() {
    let pc = SearchConfig::preset("paper", Method::PcDarts).unwrap();
    assert_eq!(pc.arch_warmup_epochs, 15);
    assert!(!pc.arch_steps_in(14) && pc.arch_steps_in(15));
    let darts = SearchConfig::preset("paper", Method::Darts).unwrap();
    assert!(darts.arch_steps_in(0));
    let short = SearchConfig { epochs: 15, ..pc };
    assert!(short.problem().unwrap().contains("--arch-warmup-epochs"));
}

/// During the warm-up the weights train and α does not move; after it, α moves.
#[test]
fn warm_up_epochs_leave_the_architecture_alone() {
    let mut config = SearchConfig {
        channels: 8,
        layers: 3,
        epochs: 2,
        batch_size: 16,
        arch_warmup_epochs: 1,
        ..SearchConfig::preset("quick", Method::PcDarts).unwrap()
    };
    config.data.train_images = Some(64);
    config.sgd.lr = 0.05; // the quick preset's rate per image at batch 16
    let (weights, arch) = embedded().unwrap().train.slice(0..64).split_half();
    let device = select_device(DeviceChoice::Cpu).unwrap().device;
    let mut search = Searcher::new(config, weights, arch, 10, &device).unwrap();
    let [model0, arch0] = search.net.records().unwrap();
    search
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    let [model1, arch1] = search.net.records().unwrap();
    assert_eq!(arch0, arch1, "α moved during the warm-up");
    assert_ne!(
        model0, model1,
        "the weights did not train during the warm-up"
    );
    search
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    let [_, arch2] = search.net.records().unwrap();
    assert_ne!(arch1, arch2, "α did not move after the warm-up");
}

fn cifar_like(names: &[&str], channels: usize) -> Splits {
    let mut splits = embedded().unwrap();
    let plane = 32 * 32;
    for set in [&mut splits.train, &mut splits.test] {
        set.channels = channels;
        set.height = 32;
        set.width = 32;
        set.images = (0..set.len() * channels * plane)
            .map(|i| (i % 251) as u8)
            .collect();
    }
    splits.class_names = names.iter().map(|s| s.to_string()).collect();
    splits
}

/// CIFAR-10 (by its classes and shape) gets the reference's fixed mean and std; ImageNet's
/// protocol on RGB images gets ImageNet's; other data none, so runs use their own statistics.
#[test]
fn cifar10_is_normalised_with_the_reference_statistics() {
    let cifar = ista_nas::data::cifar::CLASSES;
    let splits = cifar_like(&cifar, 3);
    assert!(splits.is_cifar10());
    assert_eq!(
        splits.reference_normalization(false),
        Some(cifar10_normalization())
    );
    assert_eq!(
        splits.reference_normalization(true),
        Some(cifar10_normalization())
    );
    let fixed = cifar10_normalization();
    assert!((fixed.mean[0] - 0.4914).abs() < 1e-4 && (fixed.std[2] - 0.2616).abs() < 1e-4);

    let mut other = cifar;
    other.swap(0, 1);
    let renamed = cifar_like(&other, 3);
    assert!(!renamed.is_cifar10());
    assert_eq!(renamed.reference_normalization(false), None);
    assert_eq!(
        renamed.reference_normalization(true),
        Some(imagenet_normalization())
    );
    let grey = cifar_like(&cifar, 1);
    assert_eq!(grey.reference_normalization(true), None);
    assert_eq!(embedded().unwrap().reference_normalization(false), None);
}
