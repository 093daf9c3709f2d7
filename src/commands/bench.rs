//! `ista-nas bench`: every method at every batch size, each case in its own process so that its
//! peak memory is its own and a case that does not fit cannot take the others down; then the
//! recovery micro-benchmark. Prints a table; writes bench.csv, bench.svg, bench.md, recovery.csv.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ista_nas::bench::plot::bench_svg;
use ista_nas::bench::profile_tables::{dispatches_csv, profile_csv, profile_table};
use ista_nas::bench::recovery::{recovery_bench, recovery_csv};
use ista_nas::bench::results::{BenchRow, to_csv, to_table};
use ista_nas::bench::{BenchCase, BenchMethod, CaseTiming, run_case};
use ista_nas::devices::list::{DeviceList, select_devices};
use ista_nas::devices::noop::open_host_only;
use ista_nas::storage::run_dir::RunDir;

use super::bench_args::{BenchArgs, CaseInput};
use super::{child, run_folder};

/// Prefix of the line a case process prints its result on.
const RESULT_PREFIX: &str = "BENCH_CASE_RESULT ";

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
    let devices: Vec<_> = if input.host_only {
        vec![open_host_only()?.device]
    } else {
        let list = DeviceList((0..case.devices.max(1)).collect());
        select_devices(input.device, &list)?
            .into_iter()
            .map(|s| s.device)
            .collect()
    };
    let genotype = ista_nas::search_space::genotype::Genotype::load(&input.genotype)?;
    let splits = super::data::read_splits(input.source.data.as_deref(), input.source.format)?;
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
    if args.input.host_only {
        command.arg("--host-only");
    }
    if let Some(data) = &args.input.source.data {
        command.arg("--data").arg(data);
    }
    if let Some(format) = args.input.source.format {
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

/// Runs `method` on `devices` at each of `batches` (ascending), each case in a child process;
/// larger batches are skipped once one fails or is predicted past `limit` MiB. Each row joins
/// `rows` and bench.csv is rewritten as it comes, so a run stopped midway keeps its cases.
fn bench_method(
    args: &BenchArgs,
    (method, devices): (BenchMethod, usize),
    batches: &[usize],
    limit: Option<f64>,
    (run, rows): (&RunDir, &mut Vec<BenchRow>),
) -> anyhow::Result<()> {
    let mut points: Vec<(usize, f64)> = Vec::new();
    let mut failed: Option<usize> = None;
    for &batch_size in batches {
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
            run_in_child(args, &case)?
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
        print_row(&row);
        rows.push(row);
        run.write("bench.csv", to_csv(rows).as_bytes())?;
    }
    Ok(())
}

/// A case's line as it finishes.
fn print_row(row: &BenchRow) {
    let c = &row.case;
    let what = format!(
        "{} batch {} on {} device(s)",
        c.method.name(),
        c.batch_size,
        c.devices
    );
    match &row.timing {
        Some(t) => println!(
            "{what}: {:.1} ms/step, {:.1} images/s, peak {}",
            t.ms_per_step,
            t.images_per_s,
            t.peak_memory_bytes
                .map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
        ),
        None => println!("{what}: {}", row.status),
    }
}

/// Prints the table and writes bench.csv, bench.md, bench.svg, dispatches.csv (and the
/// profile's files).
fn write_results(
    args: &BenchArgs,
    run: &RunDir,
    rows: &[BenchRow],
    title: &str,
) -> anyhow::Result<()> {
    let table = to_table(rows);
    println!("\n{title}\n{table}");
    run.write("bench.csv", to_csv(rows).as_bytes())?;
    run.write("bench.md", format!("{title}\n\n{table}").as_bytes())?;
    bench_svg(rows, title, &run.path.join("bench.svg"))?;
    run.write("dispatches.csv", dispatches_csv(rows).as_bytes())?;
    if args.profile {
        let tables: Vec<String> = rows.iter().map(profile_table).collect();
        let tables = tables.join("\n");
        println!("\nprofile ({title}):\n{tables}");
        run.write("profile.csv", profile_csv(rows).as_bytes())?;
        run.write("profile.md", format!("{title}\n\n{tables}").as_bytes())?;
    }
    Ok(())
}

/// Runs `ista-nas bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.check()?;
    if args.shapes {
        return super::bench_shapes::run(&args);
    }
    ista_nas::search_space::genotype::Genotype::load(&args.input.genotype)?;
    let splits =
        super::data::read_splits(args.input.source.data.as_deref(), args.input.source.format)?;
    super::data::supernet_for(&splits, args.channels, args.layers, false)?;
    let most = args.device_counts.iter().copied().max().unwrap_or(1);
    let selected = if args.input.host_only {
        open_host_only()?
    } else {
        super::device::open_all(args.input.device, &DeviceList((0..most).collect()))?.swap_remove(0)
    };
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
    for &method in &args.methods {
        for &devices in &args.device_counts {
            bench_method(&args, (method, devices), &batches, limit, (&run, &mut rows))?;
        }
    }
    let title = format!(
        "search step{}, C={} L={}, {} ({})",
        if args.input.host_only {
            " (host work only: wgpu's noop backend, no kernel runs)"
        } else {
            ""
        },
        args.channels,
        args.layers,
        selected.info.name,
        selected.info.api
    );
    write_results(&args, &run, &rows, &title)?;
    let recovery_draws = if args.input.host_only {
        0
    } else {
        args.recovery_draws
    };
    if recovery_draws > 0 {
        recovery(&args, &selected, &run)?;
    }
    let profile = if args.profile {
        ", profile.csv, profile.md"
    } else {
        ""
    };
    let recovery = if recovery_draws > 0 {
        ", recovery.csv"
    } else {
        ""
    };
    println!(
        "results in {}: bench.csv, bench.md, bench.svg, dispatches.csv{profile}{recovery}",
        out.display()
    );
    Ok(())
}

fn recovery(
    args: &BenchArgs,
    selected: &ista_nas::devices::adapter::SelectedDevice,
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
