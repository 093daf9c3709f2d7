//! Every numeric setting of search, one-stage and train is range-checked in the library: for
//! each bound, the value just past it is refused naming its option, and the value on it passes.

use ista_nas::search::config::{Method, SMALLEST_NODE, SearchConfig};
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::search_space::genotype::Genotype;
use ista_nas::train::config::{MAX_IMAGE_SIZE, Schedule, TrainConfig};

/// One bound: the option, a value on the allowed side, and one past it.
type Bound<C> = (&'static str, fn(&mut C), fn(&mut C));

fn check<C: Clone>(base: &C, problem: fn(&C) -> Option<String>, bounds: &[Bound<C>]) {
    assert_eq!(problem(base), None);
    for (flag, inside, outside) in bounds {
        let mut ok = base.clone();
        inside(&mut ok);
        assert_eq!(
            problem(&ok),
            None,
            "{flag}: the value on the bound is allowed"
        );
        let mut bad = base.clone();
        outside(&mut bad);
        let why =
            problem(&bad).unwrap_or_else(|| panic!("{flag}: the value past the bound is refused"));
        assert!(why.contains(flag), "{flag}: {why}");
    }
}

/// Bounds every run's data, SGD and shape settings share.
macro_rules! shared_bounds {
    ($c:ty) => {
        [
            (
                "--channels",
                |c: &mut $c| c.channels = 2,
                |c: &mut $c| c.channels = 0,
            ),
            (
                "--channels",
                |c: &mut $c| c.channels = 6,
                |c: &mut $c| c.channels = 5,
            ),
            (
                "--layers",
                |c: &mut $c| c.layers = 3,
                |c: &mut $c| c.layers = 2,
            ),
            (
                "--batch-size",
                |c: &mut $c| c.batch_size = 1,
                |c: &mut $c| c.batch_size = 0,
            ),
            (
                "--batch-size",
                |c: &mut $c| c.batch_size = 65536,
                |c: &mut $c| c.batch_size = 65537,
            ),
            (
                "--train-images",
                |c: &mut $c| c.data.train_images = Some(1),
                |c: &mut $c| c.data.train_images = Some(0),
            ),
            (
                "--classes",
                |c: &mut $c| c.data.classes = Some(2),
                |c: &mut $c| c.data.classes = Some(1),
            ),
            (
                "--cutout",
                |c: &mut $c| c.data.cutout = Some(1),
                |c: &mut $c| c.data.cutout = Some(0),
            ),
            (
                "--cutout",
                |c: &mut $c| c.data.cutout = Some(1024),
                |c: &mut $c| c.data.cutout = Some(1025),
            ),
            (
                "--lr",
                |c: &mut $c| (c.sgd.lr, c.sgd.lr_min) = (1e-9, 0.0),
                |c: &mut $c| c.sgd.lr = 0.0,
            ),
            (
                "--lr",
                |c: &mut $c| c.sgd.lr = 1e3,
                |c: &mut $c| c.sgd.lr = f64::INFINITY,
            ),
            (
                "--lr-min",
                |c: &mut $c| c.sgd.lr_min = 0.0,
                |c: &mut $c| c.sgd.lr_min = -1e-9,
            ),
            (
                "--lr-min",
                |c: &mut $c| c.sgd.lr_min = c.sgd.lr,
                |c: &mut $c| c.sgd.lr_min = 2.0 * c.sgd.lr,
            ),
            (
                "--momentum",
                |c: &mut $c| c.sgd.momentum = 0.0,
                |c: &mut $c| c.sgd.momentum = -0.1,
            ),
            (
                "--momentum",
                |c: &mut $c| c.sgd.momentum = 0.999,
                |c: &mut $c| c.sgd.momentum = 1.0,
            ),
            (
                "--weight-decay",
                |c: &mut $c| c.sgd.weight_decay = 0.0,
                |c: &mut $c| c.sgd.weight_decay = -1e-9,
            ),
            (
                "--weight-decay",
                |c: &mut $c| c.sgd.weight_decay = 1.0,
                |c: &mut $c| c.sgd.weight_decay = f64::NAN,
            ),
            (
                "--grad-clip",
                |c: &mut $c| c.sgd.grad_clip = 1e-3,
                |c: &mut $c| c.sgd.grad_clip = 0.0,
            ),
            (
                "--checkpoint-every",
                |c: &mut $c| c.checkpoint_every = Some(1e-3),
                |c: &mut $c| c.checkpoint_every = Some(0.0),
            ),
            (
                "--checkpoint-every",
                |c: &mut $c| c.checkpoint_every = Some(1e6),
                |c: &mut $c| c.checkpoint_every = Some(f64::NAN),
            ),
        ]
    };
}

/// Bounds of the architecture's Adam (search and one-stage).
macro_rules! arch_bounds {
    ($c:ty) => {
        [
            (
                "--arch-lr",
                |c: &mut $c| c.arch.arch_lr = 1e-9,
                |c: &mut $c| c.arch.arch_lr = 0.0,
            ),
            (
                "--arch-beta1",
                |c: &mut $c| c.arch.arch_beta1 = 0.0,
                |c: &mut $c| c.arch.arch_beta1 = -0.5,
            ),
            (
                "--arch-beta1",
                |c: &mut $c| c.arch.arch_beta1 = 0.99,
                |c: &mut $c| c.arch.arch_beta1 = 1.0,
            ),
            (
                "--arch-beta2",
                |c: &mut $c| c.arch.arch_beta2 = 0.0,
                |c: &mut $c| c.arch.arch_beta2 = -0.5,
            ),
            (
                "--arch-beta2",
                |c: &mut $c| c.arch.arch_beta2 = 0.9999,
                |c: &mut $c| c.arch.arch_beta2 = 1.0,
            ),
            (
                "--arch-weight-decay",
                |c: &mut $c| c.arch.arch_weight_decay = 0.0,
                |c: &mut $c| c.arch.arch_weight_decay = -1.0,
            ),
            ("--m", |c: &mut $c| c.m = 1, |c: &mut $c| c.m = 0),
            (
                "--m",
                |c: &mut $c| c.m = SMALLEST_NODE,
                |c: &mut $c| c.m = SMALLEST_NODE + 1,
            ),
            (
                "--lambda",
                |c: &mut $c| c.lambda = 0.0,
                |c: &mut $c| c.lambda = -1e-6,
            ),
            (
                "--lambda",
                |c: &mut $c| c.lambda = 1.0,
                |c: &mut $c| c.lambda = f64::NAN,
            ),
        ]
    };
}

#[test]
fn search_settings_are_range_checked() {
    let base = SearchConfig::quick();
    check(&base, SearchConfig::problem, &shared_bounds!(SearchConfig));
    check(&base, SearchConfig::problem, &arch_bounds!(SearchConfig));
    let own: [Bound<SearchConfig>; 6] = [
        ("--epochs", |c| c.epochs = 1, |c| c.epochs = 0),
        ("--sparsity", |c| c.sparsity = 1, |c| c.sparsity = 0),
        (
            "--sparsity",
            |c| c.sparsity = SMALLEST_NODE,
            |c| c.sparsity = SMALLEST_NODE + 1,
        ),
        (
            "--partial-channels",
            |c| c.partial_channels = 1,
            |c| c.partial_channels = 0,
        ),
        (
            "--arch-warmup-epochs",
            |c| c.arch_warmup_epochs = c.epochs - 1,
            |c| c.arch_warmup_epochs = c.epochs,
        ),
        (
            "--channels",
            |c| (c.method, c.channels) = (Method::PcDarts, 8),
            |c| (c.method, c.channels) = (Method::PcDarts, 6),
        ),
    ];
    check(&base, SearchConfig::problem, &own);
}

#[test]
fn one_stage_settings_are_range_checked() {
    let base = OneStageConfig::quick();
    check(
        &base,
        OneStageConfig::problem,
        &shared_bounds!(OneStageConfig),
    );
    check(
        &base,
        OneStageConfig::problem,
        &arch_bounds!(OneStageConfig),
    );
    let own: [Bound<OneStageConfig>; 8] = [
        (
            "--search-epochs",
            |c| c.search_epochs = 1,
            |c| c.search_epochs = 0,
        ),
        (
            "--test-images",
            |c| c.test_images = Some(1),
            |c| c.test_images = Some(0),
        ),
        ("--epsilon", |c| c.epsilon = 0.0, |c| c.epsilon = -1e-9),
        (
            "--epsilon",
            |c| c.epsilon = 1e9,
            |c| c.epsilon = f64::INFINITY,
        ),
        ("--max-params", |c| c.max_params = 1, |c| c.max_params = 0),
        (
            "--auxiliary-weight",
            |c| c.auxiliary_weight = 0.0,
            |c| c.auxiliary_weight = -0.1,
        ),
        ("--drop-path", |c| c.drop_path = 0.0, |c| c.drop_path = -0.1),
        ("--drop-path", |c| c.drop_path = 0.99, |c| c.drop_path = 1.0),
    ];
    check(&base, OneStageConfig::problem, &own);
}

#[test]
fn train_settings_are_range_checked() {
    let base = TrainConfig::quick(Genotype::load("ISTA_NAS").unwrap());
    check(&base, TrainConfig::problem, &shared_bounds!(TrainConfig));
    let own: [Bound<TrainConfig>; 12] = [
        ("--epochs", |c| c.epochs = 1, |c| c.epochs = 0),
        (
            "--test-images",
            |c| c.test_images = Some(1),
            |c| c.test_images = Some(0),
        ),
        (
            "--auxiliary-weight",
            |c| c.auxiliary_weight = 0.0,
            |c| c.auxiliary_weight = -0.1,
        ),
        ("--drop-path", |c| c.drop_path = 0.0, |c| c.drop_path = -0.1),
        ("--drop-path", |c| c.drop_path = 0.99, |c| c.drop_path = 1.0),
        (
            "--label-smoothing",
            |c| c.label_smoothing = 0.0,
            |c| c.label_smoothing = -0.1,
        ),
        (
            "--label-smoothing",
            |c| c.label_smoothing = 0.99,
            |c| c.label_smoothing = 1.0,
        ),
        (
            "--warmup-epochs",
            |c| (c.schedule, c.epochs, c.warmup_epochs) = (Schedule::WarmupLinear, 6, 5),
            |c| (c.schedule, c.epochs, c.warmup_epochs) = (Schedule::WarmupLinear, 5, 5),
        ),
        (
            "--image-size",
            |c| (c.image_size, c.eval_resize) = (8, 8),
            |c| (c.image_size, c.eval_resize) = (7, 8),
        ),
        (
            "--image-size",
            |c| (c.image_size, c.eval_resize) = (MAX_IMAGE_SIZE, MAX_IMAGE_SIZE),
            |c| (c.image_size, c.eval_resize) = (MAX_IMAGE_SIZE + 1, MAX_IMAGE_SIZE + 1),
        ),
        (
            "evaluation resize",
            |c| c.eval_resize = c.image_size,
            |c| c.eval_resize = c.image_size - 1,
        ),
        (
            "colour_jitter",
            |c| c.colour_jitter = 1.0,
            |c| c.colour_jitter = 1.01,
        ),
    ];
    check(&base, TrainConfig::problem, &own);
}
