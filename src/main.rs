//! `ista-nas`: the command-line front end.

mod commands;

use clap::{Parser, Subcommand};

/// ISTA-NAS: differentiable architecture search by sparse coding, on any GPU (wgpu: Vulkan, Metal, DX12).
#[derive(Parser, Debug)]
#[command(name = "ista-nas", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant, reason = "parsed once per run")]
enum Command {
    /// Search for a cell architecture with two-stage ISTA-NAS, one-stage ISTA-NAS (--method ista-one-stage), or the DARTS / PC-DARTS baselines (default: a short two-stage search on the embedded data).
    Search(commands::search_args::SearchArgs),
    /// Fold a one-stage run's fixed architecture into a plain network (Eq. 12): RUN_DIR/folded.model, which `eval` loads.
    Fold(commands::fold::FoldArgs),
    /// Train a genotype from scratch (default: a short run on the embedded data; --preset cifar / imagenet for the paper's protocols).
    Train(commands::train::TrainArgs),
    /// Score a saved model on a test set (top-1, top-5, loss), or a search run's supernet again (--search), optionally with its BN statistics recomputed.
    Eval(commands::eval::EvalArgs),
    /// Write a model file's network for other tools: --torch OUT, DARTS's PyTorch state dict as SafeTensors.
    Export(commands::export::ExportArgs),
    /// Inspect genotypes: `genotype show NAME|FILE` prints the cells and network sizes (--json: the genotype file).
    Genotype(commands::genotype::GenotypeArgs),
    /// The LASSO sparse-recovery demo: draw A and b for every node of both cells, recover z on the GPU and in f64 on the CPU, compare supports.
    Lasso(commands::lasso::LassoArgs),
    /// Time search steps of ISTA-NAS, DARTS and PC-DARTS side by side at several batch sizes (ms/step, images/s, peak memory, ratios to DARTS), then sparse recovery on GPU and CPU.
    Bench(commands::bench_args::BenchArgs),
    /// One bench case in its own process (used by `bench`).
    #[command(hide = true)]
    BenchCase(commands::bench::BenchCaseArgs),
    /// Kendall τ and Spearman ρ between supernet and stand-alone accuracy over K searches with different seeds (default: micro scale on the embedded data).
    Consistency(commands::consistency_args::ConsistencyArgs),
    /// Overlay the curves (loss, accuracy, learning rate, architecture changes) of several run folders in one SVG.
    Plot(commands::plot::PlotArgs),
    /// Summarise trainings of a genotype with different seeds as papers do: final and best test error as mean ± std, parameters and multiply-adds (Markdown).
    Report(commands::report::ReportArgs),
    /// Show the adapter that `--device` selects.
    Device(commands::device::DeviceArgs),
    /// Read a data set (IDX, CIFAR-10 binary, ImageFolder; default: the embedded subset) and summarise it.
    Data(commands::data::DataArgs),
}

/// Mesa's Vulkan drivers print `error: XDG_RUNTIME_DIR is invalid or not set` on every adapter
/// probe when it is missing (cron, containers, `env -i`), which reads as a failure on a healthy
/// machine: give the process a private one (mode 0700 under the temporary folder) in that case.
#[cfg(unix)]
fn runtime_dir_for_mesa() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let valid = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .is_some_and(|d| d.is_absolute() && d.is_dir());
    if valid {
        return;
    }
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("ista-nas-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let ours = std::fs::metadata(&dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0);
    if ours {
        // SAFETY: called at the start of main, before any thread starts.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

fn main() {
    // Output to a closed pipe (`ista-nas genotype show X | head -1`) ends the process quietly
    // with the usual status, as other command-line tools do, instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    #[cfg(unix)]
    runtime_dir_for_mesa();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Search(args) => commands::search::run(args),
        Command::Fold(args) => commands::fold::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Genotype(args) => commands::genotype::run(args),
        Command::Lasso(args) => commands::lasso::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::BenchCase(args) => commands::bench::run_one(args),
        Command::Consistency(args) => commands::consistency::run(args),
        Command::Plot(args) => commands::plot::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Device(args) => commands::device::run(args),
        Command::Data(args) => commands::data::run(args),
    };
    if let Err(error) = result {
        if let Some(stopped) = error.downcast_ref::<commands::stop_signals::Stopped>() {
            eprintln!("{stopped}");
            std::process::exit(stopped.status());
        }
        // The chain of causes, skipping those whose text a message already quotes.
        let mut message = error.to_string();
        for cause in error.chain().skip(1) {
            let cause = cause.to_string();
            if !message.contains(&cause) {
                message = format!("{message}: {cause}");
            }
        }
        eprintln!("error: {message}");
        let non_finite = error.chain().any(|cause| {
            matches!(
                cause.downcast_ref::<ista_nas::IstaError>(),
                Some(ista_nas::IstaError::NonFinite(_))
            )
        });
        std::process::exit(if non_finite {
            ista_nas::error::NON_FINITE_EXIT
        } else {
            1
        });
    }
}
