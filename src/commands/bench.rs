//! `ista-nas bench`: every method at every batch size, each case in its own process so that its
//! peak memory is its own and a case that does not fit cannot take the others down; then the
//! recovery micro-benchmark. Prints a table; writes bench.csv, bench.svg, bench.md, recovery.csv.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use ista_nas::bench::plot::bench_svg;
use ista_nas::bench::profile_report::{dispatches_csv, profile_csv, profile_table};
use ista_nas::bench::recovery::{recovery_bench, recovery_csv};
use ista_nas::bench::report::{BenchRow, to_csv, to_table};
use ista_nas::bench::{BenchCase, BenchMethod, CaseTiming, run_case};
use ista_nas::data::DataFormat;
use ista_nas::device::DeviceChoice;
use ista_nas::devices::{DeviceList, select_devices};
use ista_nas::model::skeleton::NetKind;
use ista_nas::run_dir::RunDir;

use super::{child, run_folder};

/// Prefix of the line a case process prints its result on.
const RESULT_PREFIX: &str = "BENCH_CASE_RESULT ";

/// What every case runs on: device, data and the genotype of ISTA-NAS's ops.
#[derive(Args, Debug, Clone)]
pub struct CaseInput {
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
    /// Data folder for the batches; default: the embedded Fashion-MNIST subset (32×32 after padding).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Layout of `--data`; detected when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// The genotype whose ops ISTA-NAS runs (a built-in name or a file); DARTS methods run all ops.
    #[arg(long, default_value = "ISTA_NAS")]
    pub genotype: String,
}

/// Options of `ista-nas bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub input: CaseInput,
    /// Methods to run, side by side (ista-one-stage: one step updates the weights and b together; its C and L are this command's).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BenchMethod::Ista, BenchMethod::Darts, BenchMethod::PcDarts])]
    pub methods: Vec<BenchMethod>,
    /// Batch sizes (each method runs each; larger ones are skipped once one does not fit).
    #[arg(long, value_delimiter = ',', default_values_t = [64, 256, 512])]
    pub batch_sizes: Vec<usize>,
    /// Initial channels C of the supernets (the paper's search: 16; PC-DARTS needs a multiple of 8).
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    /// Cells L.
    #[arg(long, default_value_t = 8)]
    pub layers: usize,
    /// Untimed steps before timing (kernel compilation, memory-pool growth).
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Device counts to run each case on (synchronous data parallel over adapters 0..N of the kind --device picks; the table adds images/s against 1 device). A software adapter or the CPU backend gives logical devices that share it.
    #[arg(long, value_name = "N,...", value_delimiter = ',', default_values_t = [1])]
    pub device_counts: Vec<usize>,
    /// Timed search steps (each an architecture step and a weight step).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Seed of weights and architecture parameters.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Skip cases predicted to need more memory than this (MiB); default: the free system memory on software adapters, no limit on GPUs.
    #[arg(long)]
    pub memory_limit_mib: Option<f64>,
    /// Random b per node in the recovery micro-benchmark's large set (0: no recovery benchmark).
    #[arg(long, default_value_t = 100)]
    pub recovery_draws: usize,
    /// Also profile each case: as many steps again, each part timed on its own (forward, backward, optimiser; convolutions by kind, BN, pooling, the mixed op, host reads), written to profile.csv and profile.md; on wgpu devices, kernel launches per kernel go to dispatches.csv.
    #[arg(long)]
    pub profile: bool,
    /// Folder for bench.csv, bench.svg, bench.md and recovery.csv (default: runs/bench-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run nothing: print, per own kernel, the launches of one ISTA-NAS search step at --channels, --layers, --batch-sizes and --image-size, with threads, the longest serial loop and bytes moved, as planned for a GPU (ISTA_NAS_KERNELS=software: for a software adapter); writes shapes.csv and shapes.md.
    #[arg(long)]
    pub shapes: bool,
    /// Side of the square images of --shapes.
    #[arg(long, default_value_t = 32)]
    pub image_size: usize,
    /// Stem and head of the --shapes network: cifar (one stem conv) or imagenet (three stride-2 stem convs).
    #[arg(long, value_enum, default_value_t = NetKind::Cifar)]
    pub net: NetKind,
}

/// Options of the hidden `bench-case` command: one case, its result printed as JSON.
#[derive(Args, Debug)]
pub struct BenchCaseArgs {
    #[command(flatten)]
    pub input: CaseInput,
    /// The case, as JSON.
    #[arg(long)]
    pub case: String,
}

/// Runs one case in this process and prints its timing.
pub fn run_one(args: BenchCaseArgs) -> anyhow::Result<()> {
    let case: BenchCase = serde_json::from_str(&args.case).context("bad --case JSON")?;
    let input = &args.input;
    let list = DeviceList((0..case.devices.max(1)).collect());
    let devices: Vec<_> = select_devices(input.device, &list)?
        .into_iter()
        .map(|s| s.device)
        .collect();
    let genotype = ista_nas::genotype::Genotype::load(&input.genotype)?;
    let splits = super::data::read_splits(input.data.as_deref(), input.format)?;
    let classes = splits.class_names.len();
    let timing = run_case(&case, &splits.train, classes, &genotype, &devices)?;
    println!("{RESULT_PREFIX}{}", serde_json::to_string(&timing)?);
    Ok(())
}

fn run_in_child(args: &BenchArgs, case: &BenchCase) -> anyhow::Result<Result<CaseTiming, String>> {
    let mut command = child::ista_nas()?;
    command
        .arg("bench-case")
        .arg("--device")
        .arg(child::value_name(&args.input.device))
        .arg("--case")
        .arg(serde_json::to_string(case)?)
        .arg("--genotype")
        .arg(&args.input.genotype);
    if let Some(data) = &args.input.data {
        command.arg("--data").arg(data);
    }
    if let Some(format) = args.input.format {
        command.arg("--format").arg(child::value_name(&format));
    }
    let output = command.output().context("cannot start a bench case")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if let Some(json) = stdout.lines().find_map(|l| l.strip_prefix(RESULT_PREFIX)) {
        return Ok(Ok(serde_json::from_str(json)?));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("note:"))
        .unwrap_or("no output")
        .trim()
        .to_string();
    Ok(Err(format!("failed ({}): {reason}", output.status)))
}

/// Free system memory in MiB (Linux), the limit on software adapters.
fn available_mib() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak MiB at `batch` extrapolated from this method's measured (batch, MiB) points.
fn predicted_mib(points: &[(usize, f64)], batch: usize) -> Option<f64> {
    match points {
        [] => None,
        [(b0, m0)] => Some(m0 * batch as f64 / *b0 as f64),
        [.., (b0, m0), (b1, m1)] => {
            let slope = (m1 - m0) / (*b1 as f64 - *b0 as f64);
            Some(m1 + slope.max(0.0) * (batch as f64 - *b1 as f64))
        }
    }
}

/// Runs `ista-nas bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.methods.is_empty() || args.batch_sizes.contains(&0) || args.steps == 0 {
        bail!("--methods must name a method, --batch-sizes be at least 1 and --steps at least 1");
    }
    if args.device_counts.is_empty() || args.device_counts.contains(&0) {
        bail!("--device-counts lists device counts of at least 1, e.g. 1,2");
    }
    if args.channels == 0 || !args.channels.is_multiple_of(2) || args.layers < 3 {
        bail!("--channels must be even and --layers at least 3");
    }
    if args.shapes {
        return super::bench_shapes::run(&args);
    }
    ista_nas::genotype::Genotype::load(&args.input.genotype)?;
    let splits = super::data::read_splits(args.input.data.as_deref(), args.input.format)?;
    super::data::supernet_for(&splits, args.channels, args.layers, false)?;
    let most = args.device_counts.iter().copied().max().unwrap_or(1);
    let selected = super::device::open_all(args.input.device, &DeviceList((0..most).collect()))?
        .swap_remove(0);
    let limit = args
        .memory_limit_mib
        .or_else(|| (selected.info.kind == "Cpu").then(available_mib).flatten());
    let mut batches = args.batch_sizes.clone();
    batches.sort_unstable();
    batches.dedup();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/bench-{}", run_folder::unix_time())));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let run = RunDir { path: out.clone() };
    println!(
        "bench: C={} L={}, {} warm-up + {} timed steps per case, ISTA-NAS runs {}; memory limit {}",
        args.channels,
        args.layers,
        args.warmup,
        args.steps,
        args.input.genotype,
        limit.map_or("none".into(), |l| format!("{l:.0} MiB"))
    );
    let mut rows: Vec<BenchRow> = Vec::new();
    let cases = args
        .methods
        .iter()
        .flat_map(|&m| args.device_counts.iter().map(move |&d| (m, d)));
    for (method, devices) in cases {
        let mut points: Vec<(usize, f64)> = Vec::new();
        let mut failed: Option<usize> = None;
        for &batch_size in &batches {
            let case = BenchCase {
                method,
                batch_size,
                channels: args.channels,
                layers: args.layers,
                warmup: args.warmup,
                steps: args.steps,
                seed: args.seed,
                profile: args.profile,
                devices,
            };
            let predicted = predicted_mib(&points, batch_size);
            let outcome = if let Some(problem) = case.problem() {
                Err(format!("skipped: {problem}"))
            } else if let Some(smaller) = failed {
                Err(format!("skipped: batch {smaller} did not fit"))
            } else if let Some((p, l)) = predicted.zip(limit).filter(|(p, l)| p > l) {
                Err(format!("skipped: predicted {p:.0} MiB > limit {l:.0} MiB"))
            } else {
                run_in_child(&args, &case)?
            };
            let row = match outcome {
                Ok(timing) => {
                    if let Some(bytes) = timing.peak_memory_bytes {
                        points.push((batch_size, bytes as f64 / 1048576.0));
                    }
                    BenchRow {
                        case,
                        timing: Some(timing),
                        status: "ok".into(),
                    }
                }
                Err(status) => {
                    if status.starts_with("failed") {
                        failed = Some(batch_size);
                    }
                    BenchRow {
                        case,
                        timing: None,
                        status,
                    }
                }
            };
            match &row.timing {
                Some(t) => println!(
                    "{} batch {batch_size} on {devices} device(s): {:.1} ms/step, {:.1} images/s, peak {}",
                    method.name(),
                    t.ms_per_step,
                    t.images_per_s,
                    t.peak_memory_bytes
                        .map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
                ),
                None => println!(
                    "{} batch {batch_size} on {devices} device(s): {}",
                    method.name(),
                    row.status
                ),
            }
            rows.push(row);
        }
    }
    let title = format!(
        "search step, C={} L={}, {} ({})",
        args.channels, args.layers, selected.info.name, selected.info.api
    );
    let table = to_table(&rows);
    println!("\n{title}\n{table}");
    run.write("bench.csv", to_csv(&rows).as_bytes())?;
    run.write("bench.md", format!("{title}\n\n{table}").as_bytes())?;
    bench_svg(&rows, &title, &out.join("bench.svg"))?;
    run.write("dispatches.csv", dispatches_csv(&rows).as_bytes())?;
    if args.profile {
        let tables: Vec<String> = rows.iter().map(profile_table).collect();
        let tables = tables.join("\n");
        println!("\nprofile ({title}):\n{tables}");
        run.write("profile.csv", profile_csv(&rows).as_bytes())?;
        run.write("profile.md", format!("{title}\n\n{tables}").as_bytes())?;
    }
    if args.recovery_draws > 0 {
        recovery(&args, &selected, &run)?;
    }
    println!(
        "results in {}: bench.csv, bench.md, bench.svg, dispatches.csv{}{}",
        out.display(),
        if args.profile {
            ", profile.csv, profile.md"
        } else {
            ""
        },
        if args.recovery_draws > 0 {
            ", recovery.csv"
        } else {
            ""
        }
    );
    Ok(())
}

fn recovery(
    args: &BenchArgs,
    selected: &ista_nas::device::SelectedDevice,
    run: &RunDir,
) -> anyhow::Result<()> {
    let gpu = selected.info.wgsl_kernels;
    let rows = recovery_bench(7, args.recovery_draws, 5, gpu, args.seed, &selected.device)?;
    println!("recovery (m = 7, λ = 1e-5, all 8 nodes per set; fastest of 5):");
    println!(
        "| solver | problems | ms | problems/s | same support as f64 | time vs f64 CPU |\n|---|---|---|---|---|---|"
    );
    for r in &rows {
        println!(
            "| {} | {} | {:.2} | {:.0} | {}/{} | {:.2}× |",
            r.solver,
            r.problems,
            r.ms,
            r.problems_per_s,
            r.same_support,
            r.problems,
            r.ratio_to_cpu
        );
    }
    if !gpu {
        println!("(not a wgpu adapter: only the f64 CPU solver ran)");
    }
    run.write("recovery.csv", recovery_csv(&rows).as_bytes())?;
    Ok(())
}
