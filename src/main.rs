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
    /// Search for a cell architecture with two-stage ISTA-NAS (default: a short search on the embedded data).
    Search(commands::search::SearchArgs),
    /// Sparse-recovery demo: draw A and b for every node of both cells, recover z on the GPU and in f64 on the CPU, compare supports.
    Recover(commands::recover::RecoverArgs),
    /// Show the adapter that `--device` selects.
    Device(commands::device::DeviceArgs),
    /// Read a data set (IDX, CIFAR-10 binary, ImageFolder; default: the embedded subset) and summarise it.
    Data(commands::data::DataArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Search(args) => commands::search::run(args),
        Command::Recover(args) => commands::recover::run(args),
        Command::Device(args) => commands::device::run(args),
        Command::Data(args) => commands::data::run(args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
