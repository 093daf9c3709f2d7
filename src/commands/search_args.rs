//! The options of `ista-nas search` (every method, one-stage included) and the settings they
//! make.

use std::path::PathBuf;

use clap::Args;
use ista_nas::search::config::{LrScaling, Method, SearchConfig};
use ista_nas::search::one_stage::checkpoint::OneStageCheckpoint;
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::settings::presets::{self, PresetCommand};
use ista_nas::sparse::measurement::MeasurementKind;
use ista_nas::sparse::recovery::RecoverySolver;
use ista_nas::storage::run_dir::RunDir;
use serde_json::{Map, Value};

use super::options::{DataOptions, DeviceOptions, RunOptions, put, settings};

/// The help of `search --preset`.
const PRESET_HELP: &str = "Settings to start from: quick (a short real search on the embedded data: C=4, L=5, 1,024 images, raised learning rates; 3 epochs, about 15 seconds on a 2-core CPU; one-stage: up to 8 search and 4 training epochs, about 1.5 minutes), paper (the paper's search: C=16, L=8, 50 epochs, batch 256; DARTS and PC-DARTS as published; one-stage: the authors' run, C=36, L=20, up to 600 + 600 epochs), or a JSON file of settings layered over the built-in its \"preset\" key names (default quick). The built-ins are presets/search-*.json and presets/one-stage-*.json; the options below override them";

/// Options of `ista-nas search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub devices: DeviceOptions,
    /// Search method: ista (two-stage ISTA-NAS, the default), ista-one-stage (Algorithm 2: search and train the target network in one run, freeze each node when its z converges, then fold the fixed weights into a plain network, folded.model, that `eval` loads), darts (first order) or pc-darts.
    #[arg(long, value_enum)]
    pub method: Option<SearchMethod>,
    /// The same as --method ista-one-stage.
    #[arg(long, conflicts_with_all = ["method", "sparsity", "solver", "partial_channels"])]
    pub one_stage: bool,
    #[arg(long, default_value = "quick", help = PRESET_HELP)]
    pub preset: String,
    #[command(flatten)]
    pub data: DataOptions,
    #[command(flatten)]
    pub run: RunOptions,
    /// Epochs (one-stage: training epochs once the architecture is fixed).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// One-stage: most search epochs; nodes still active then are frozen as they are.
    #[arg(long)]
    pub search_epochs: Option<usize>,
    /// One-stage: a node freezes when its z moves by at most this (L2) over an epoch.
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// One-stage: reject a candidate architecture whose network has at least this many parameters (auxiliary head excluded).
    #[arg(long)]
    pub max_params: Option<u64>,
    /// One-stage: weight of the auxiliary head's loss (0: no auxiliary head).
    #[arg(long)]
    pub auxiliary_weight: Option<f64>,
    /// One-stage: final drop-path probability of the training phase.
    #[arg(long)]
    pub drop_path: Option<f64>,
    /// Images per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed of weights, measurement matrices, b and data order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Initial channels C.
    #[arg(long)]
    pub channels: Option<usize>,
    /// Cells L.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Rows m of each measurement matrix.
    #[arg(long)]
    pub m: Option<usize>,
    /// Active ops per node s.
    #[arg(long)]
    pub sparsity: Option<usize>,
    /// LASSO weight λ.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// How the measurement matrices are drawn.
    #[arg(long, value_enum)]
    pub measurement: Option<MeasurementKind>,
    /// LASSO solver: cpu (f64, default), gpu (f32 batch) or hybrid.
    #[arg(long, value_enum)]
    pub solver: Option<RecoverySolver>,
    /// Weight learning rate: the rate the run starts its cosine at, whatever the batch size (the paper's 0.1 at batch 256 is 0.025 at 64).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight learning rate the cosine schedule ends at (the reference's 0.001): two-stage searches step it before each epoch, so the last epoch trains at it; one-stage runs reach it over their training epochs.
    #[arg(long)]
    pub lr_min: Option<f64>,
    /// Adam learning rate of b.
    #[arg(long)]
    pub arch_lr: Option<f64>,
    /// PC-DARTS's K: 1/K of the channels go through the mixed op (C must be a multiple of 2K).
    #[arg(long)]
    pub partial_channels: Option<usize>,
    /// Cutout side in pixels (off by default in search).
    #[arg(long)]
    pub cutout: Option<usize>,
    /// Epochs at the start that train the weights only, with no architecture step (PC-DARTS's warm-up; its paper preset: 15, else 0).
    #[arg(long, conflicts_with = "one_stage")]
    pub arch_warmup_epochs: Option<usize>,
}

/// The methods `search --method` takes: the two-stage ones and one-stage ISTA-NAS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchMethod {
    /// Two-stage ISTA-NAS.
    Ista,
    /// One-stage ISTA-NAS (Algorithm 2).
    IstaOneStage,
    /// DARTS, first order.
    Darts,
    /// PC-DARTS.
    PcDarts,
}

impl SearchArgs {
    /// Whether the run is one-stage ISTA-NAS (`--method ista-one-stage`, `--one-stage`, or a
    /// one-stage run to resume or rerun).
    pub fn is_one_stage(&self) -> bool {
        let saved = |path: &PathBuf| {
            presets::saved(path).is_ok_and(|settings| settings.contains_key("search_epochs"))
        };
        self.one_stage
            || self.method == Some(SearchMethod::IstaOneStage)
            || self.run.resume.as_ref().is_some_and(|dir| {
                OneStageCheckpoint::is_at(&RunDir { path: dir.clone() }.checkpoint_path())
            })
            || self.run.config.as_ref().is_some_and(saved)
    }

    /// The options given, put into `settings` (keys of `config.json`) over the preset's.
    pub fn apply(&self, settings: &mut Map<String, Value>) {
        self.data.put(settings);
        self.run.put(settings);
        put(settings, "epochs", self.epochs);
        put(settings, "batch_size", self.batch_size);
        put(settings, "seed", self.seed);
        put(settings, "channels", self.channels);
        put(settings, "layers", self.layers);
        put(settings, "m", self.m);
        put(settings, "lambda", self.lambda);
        put(settings, "measurement", self.measurement);
        put(settings, "lr", self.lr);
        put(settings, "lr_min", self.lr_min);
        put(settings, "arch_lr", self.arch_lr);
        put(settings, "cutout", self.cutout);
        put(settings, "sparsity", self.sparsity);
        put(settings, "solver", self.solver);
        put(settings, "partial_channels", self.partial_channels);
        put(settings, "arch_warmup_epochs", self.arch_warmup_epochs);
        put(settings, "search_epochs", self.search_epochs);
        put(settings, "epsilon", self.epsilon);
        put(settings, "max_params", self.max_params);
        put(settings, "auxiliary_weight", self.auxiliary_weight);
        put(settings, "drop_path", self.drop_path);
    }

    /// Refuses options a resumed run would ignore (it keeps its checkpoint's settings).
    pub fn refuse_with_resume(&self) -> anyhow::Result<()> {
        let mut given = Map::new();
        self.apply(&mut given);
        put(&mut given, "method", self.method.map(|_| "given"));
        self.run.refuse_with_resume(&given)
    }

    /// The two-stage method of a run that is not one-stage.
    fn two_stage_method(&self) -> Option<Method> {
        self.method.map(|m| match m {
            SearchMethod::Darts => Method::Darts,
            SearchMethod::PcDarts => Method::PcDarts,
            SearchMethod::Ista | SearchMethod::IstaOneStage => Method::Ista,
        })
    }

    pub fn config(&self) -> anyhow::Result<SearchConfig> {
        let method = self.two_stage_method();
        let name = method.map(Method::name);
        let mut c = self
            .run
            .base(PresetCommand::Search, &self.preset, name, &[])?;
        self.apply(&mut c);
        put(&mut c, "method", method);
        if self.lr.is_some() {
            put(&mut c, "lr_scaling", Some(LrScaling::None));
        }
        settings(c, "the search's settings")
    }
}

/// Options that only one-stage ISTA-NAS takes, with whether they were given.
pub fn one_stage_only(args: &SearchArgs) -> [(&'static str, bool); 6] {
    [
        ("--search-epochs", args.search_epochs.is_some()),
        ("--epsilon", args.epsilon.is_some()),
        ("--max-params", args.max_params.is_some()),
        ("--auxiliary-weight", args.auxiliary_weight.is_some()),
        ("--drop-path", args.drop_path.is_some()),
        ("--test-images", args.data.test_images.is_some()),
    ]
}

impl SearchArgs {
    /// The settings of a new one-stage run.
    pub fn one_stage_config(&self) -> anyhow::Result<OneStageConfig> {
        let mut c = self
            .run
            .base(PresetCommand::OneStage, &self.preset, None, &[])?;
        self.apply(&mut c);
        settings(c, "the one-stage run's settings")
    }
}
