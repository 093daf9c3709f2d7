//! `ista-nas genotype show`: a genotype's cells and the size of its evaluation networks.

use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};
use ista_nas::model::complexity::complexity;
use ista_nas::model::eval_network::EvalConfig;
use ista_nas::model::heads::NetKind;
use ista_nas::search_space::genotype::{Genotype, literal};
use ista_nas::storage::model_file::{is_model_file, read_header};

/// Options of `ista-nas genotype`.
#[derive(Args, Debug)]
pub struct GenotypeArgs {
    #[command(subcommand)]
    command: GenotypeCommand,
}

#[derive(Subcommand, Debug)]
enum GenotypeCommand {
    /// Print a genotype's cells and the parameters of its CIFAR (C=36, L=20) and ImageNet (C=48, L=14) networks.
    Show(ShowArgs),
}

/// Options of `ista-nas genotype show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A built-in name (DARTS_V2, ISTA_NAS, ISTA_NAS_ONE_STAGE, ISTA_NAS_IMAGENET), genotype JSON (inline or a file), a DARTS `Genotype(...)` literal (inline or in a file), NAME@genotypes.py (the genotype that file assigns to NAME), or a model file (its genotype, and its own network counted too).
    pub genotype: String,
    /// Print the genotype as the project's JSON (what --genotype FILE reads) instead.
    #[arg(long, conflicts_with = "python")]
    pub json: bool,
    /// Print the genotype as a DARTS `Genotype(...)` literal, as genotypes.py files hold them.
    #[arg(long)]
    pub python: bool,
    /// Count the one-stage net (extra BN after pool and identity ops); on by default for ISTA_NAS_ONE_STAGE's CIFAR network (its ImageNet network is the plain one, as the reference evaluates it, unless this is given).
    #[arg(long)]
    pub one_stage_net: bool,
    /// Classes of the CIFAR network.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
}

fn print_cell(name: &str, picks: &[(String, usize)], concat: &[usize]) {
    println!("{name} cell (output: concat of states {concat:?}):");
    let per_node = picks.len() / ista_nas::search_space::primitives::STEPS;
    for (node, chunk) in picks.chunks(per_node).enumerate() {
        let terms: Vec<String> = chunk
            .iter()
            .map(|(op, input)| format!("{op}(state {input})"))
            .collect();
        println!("  state {} = {}", node + 2, terms.join(" + "));
    }
}

/// Runs `ista-nas genotype`.
pub fn run(args: GenotypeArgs) -> anyhow::Result<()> {
    let GenotypeCommand::Show(args) = args.command;
    let path = Path::new(&args.genotype);
    let model = if is_model_file(path) {
        Some(read_header(path).with_context(|| format!("cannot read {}", path.display()))?)
    } else {
        None
    };
    let genotype = match &model {
        Some(header) => header.network.genotype.clone(),
        None => Genotype::load(&args.genotype).context("cannot read the genotype")?,
    };
    if args.json {
        println!("{}", genotype.to_json());
        return Ok(());
    }
    if args.python {
        println!("{}", literal::to_literal(&genotype));
        return Ok(());
    }
    let explicit_norms =
        args.one_stage_net || model.as_ref().is_some_and(|h| h.network.extra_norms);
    let extra_norms = explicit_norms || Genotype::names_one_stage(&args.genotype);
    print_cell("normal", &genotype.normal, &genotype.normal_concat);
    print_cell("reduce", &genotype.reduce, &genotype.reduce_concat);
    let style = if extra_norms {
        " (one-stage net: BN after pool and identity ops)"
    } else {
        ""
    };
    if let Some(header) = &model {
        let n = &header.network;
        let counts = complexity(n, header.augment.size);
        println!(
            "this model: {:?} network C={} L={}, {} classes, {} input channels{style}: {} parameters ({:.3} M) without the auxiliary head, {} with it; {:.1} M multiply-adds per {}x{} image",
            n.kind,
            n.channels,
            n.layers,
            n.classes,
            n.in_channels,
            counts.params,
            counts.params as f64 / 1e6,
            counts.params + counts.aux_params,
            counts.multiply_adds as f64 / 1e6,
            header.augment.size,
            header.augment.size
        );
    }
    for (kind, channels, layers, classes, input) in [
        (NetKind::Cifar, 36, 20, args.classes, 32),
        (NetKind::Imagenet, 48, 14, 1000, 224),
    ] {
        // The reference builds DARTS's plain NetworkImageNet for every genotype (its
        // evaluation_imagenet.py has no one-stage variant): the extra BN only on request there.
        let extra_norms = match kind {
            NetKind::Cifar => extra_norms,
            NetKind::Imagenet => explicit_norms,
        };
        let style = if extra_norms { style } else { "" };
        let config = EvalConfig {
            kind,
            genotype: genotype.clone(),
            channels,
            layers,
            classes,
            in_channels: 3,
            auxiliary: true,
            extra_norms,
        };
        let counts = complexity(&config, input);
        println!(
            "{kind:?} network C={channels} L={layers}, {classes} classes{style}: {} parameters ({:.3} M) without the auxiliary head, {} with it; {:.1} M multiply-adds per {input}x{input} image",
            counts.params,
            counts.params as f64 / 1e6,
            counts.params + counts.aux_params,
            counts.multiply_adds as f64 / 1e6
        );
    }
    Ok(())
}
