//! DARTS `Genotype(...)` literals in and out: inline, in a file, and `NAME@genotypes.py`, read
//! strictly on the literals of DARTS_V1, DARTS_V2, PC-DARTS and ISTA-NAS as their repositories
//! publish them; `genotype show --python` writes one that reads back.

mod common;

use common::{assert_clean_failure, run, text};
use ista_nas::search_space::genotype::{Genotype, literal};

const FILE: &str = "tests/fixtures/genotypes.py";

fn named(name: &str) -> Genotype {
    Genotype::load(&format!("{name}@{FILE}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_published_literals_read_as_the_built_in_genotypes() {
    assert_eq!(named("DARTS_V2"), Genotype::builtin("DARTS_V2").unwrap());
    assert_eq!(
        named("DARTS"),
        named("DARTS_V2"),
        "an alias of another name"
    );
    assert_eq!(
        named("ISTA_twostage"),
        Genotype::builtin("ISTA_NAS").unwrap()
    );
    assert_eq!(
        named("ISTA_onestage"),
        Genotype::builtin("ISTA_NAS_ONE_STAGE").unwrap()
    );
    assert_eq!(
        named("ISTA_ImageNet"),
        Genotype::builtin("ISTA_NAS_IMAGENET").unwrap()
    );
    let v1 = named("DARTS_V1");
    assert_eq!(
        named("DARTS_V1_multiline"),
        v1,
        "comments, line breaks, trailing commas"
    );
    assert_eq!(v1.normal[7], ("skip_connect".into(), 2));
    assert_eq!(v1.reduce[7], ("avg_pool_3x3".into(), 0));
    let pc = named("PC_DARTS_cifar");
    assert_eq!(named("PC_DARTS"), pc);
    assert_eq!(pc.normal_concat, [2, 3, 4, 5], "range(2, 6)");
    assert_eq!(pc.reduce[3], ("sep_conv_5x5".into(), 2));
}

#[test]
fn literals_round_trip_and_read_inline() {
    for name in [
        "DARTS_V1",
        "DARTS_V2",
        "PC_DARTS_cifar",
        "ISTA_twostage",
        "ISTA_onestage",
    ] {
        let genotype = named(name);
        let written = literal::to_literal(&genotype);
        assert!(written.starts_with("Genotype(normal=[('"), "{written}");
        assert_eq!(Genotype::load(&written).unwrap(), genotype, "{name}");
    }
    // positional fields, as the namedtuple takes them
    let positional = "Genotype([('max_pool_3x3', 0), ('max_pool_3x3', 1)] * 0 + [], [2], [], [2])";
    assert!(
        literal::parse(positional).is_err(),
        "expressions are not literals"
    );
    let g = Genotype::builtin("ISTA_NAS").unwrap();
    let picks = |p: &[(String, usize)]| {
        let items: Vec<String> = p.iter().map(|(o, i)| format!("(\"{o}\", {i})")).collect();
        format!("[{}]", items.join(", "))
    };
    let positional = format!(
        "Genotype({}, range(2, 6), {}, [2, 3, 4, 5])",
        picks(&g.normal),
        picks(&g.reduce)
    );
    assert_eq!(literal::parse(&positional).unwrap(), g);
}

#[test]
fn bad_literals_are_clear_errors() {
    let good = literal::to_literal(&Genotype::builtin("DARTS_V2").unwrap());
    for (bad, expected) in [
        (
            good.replace("sep_conv_3x3", "conv_9x9"),
            "unknown op \"conv_9x9\"",
        ),
        (
            good.replace("normal_concat", "normal_concats"),
            "unknown field `normal_concats`",
        ),
        (
            good.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 7)"),
            "node 3 can read states",
        ),
        (
            good.replace(", ('max_pool_3x3', 1)]", "]"),
            "reduce has 7 picks",
        ),
        (
            good.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 2]"),
            "reduce_concat",
        ),
        (good.trim_end_matches(')').to_string(), "expected `)`"),
        (format!("{good} extra"), "text after the literal"),
        (
            good.replace(", reduce_concat=[2, 3, 4, 5]", ""),
            "missing `reduce_concat`",
        ),
    ] {
        let error = literal::parse(&bad).unwrap_err().to_string();
        assert!(error.contains(expected), "{bad}\n{error}");
    }
    let missing = Genotype::load(&format!("NOPE@{FILE}"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("assigns no genotype to `NOPE`"),
        "{missing}"
    );
}

#[test]
fn the_cli_reads_and_writes_literals() {
    let inline = literal::to_literal(&Genotype::builtin("ISTA_NAS").unwrap());
    let out = run(&["genotype", "show", &inline, "--python"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), inline);
    let named = format!("PC_DARTS_cifar@{FILE}");
    let out = run(&["genotype", "show", &named]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("sep_conv_5x5(state 2)"),
        "{}",
        text(&out.stdout)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.py");
    std::fs::write(&file, format!("{inline}\n")).unwrap();
    let out = run(&["genotype", "show", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        Genotype::from_json(&text(&out.stdout), "stdout").unwrap(),
        Genotype::builtin("ISTA_NAS").unwrap()
    );
    assert_clean_failure(
        &run(&["genotype", "show", &inline.replace("skip_connect", "skip")]),
        "unknown op \"skip\"",
    );
}

proptest::proptest! {
    /// Any text, and any cut or corruption of a valid literal, is a literal or an error: never
    /// a panic.
    #[test]
    fn no_text_panics_the_reader(text in ".{0,200}", cut in 0usize..400, byte in 0u8..128) {
        let _ = literal::parse(&text);
        let _ = literal::parse_named(&text, "X", "fuzz");
        let good = literal::to_literal(&Genotype::builtin("DARTS_V2").unwrap());
        let cut = cut.min(good.len());
        let _ = literal::parse(&good[..cut]);
        let mut bytes = good.into_bytes();
        let last = bytes.len() - 1;
        bytes[cut.min(last)] = byte;
        let _ = literal::parse(&String::from_utf8_lossy(&bytes));
    }
}
