//! Kendall τ-b and Spearman ρ against values computed by hand, ties included.

use ista_nas::search_space::genotype::Genotype;
use ista_nas::studies::consistency::{
    CONSISTENCY_CSV_HEADER, ConsistencyRow, consistency_csv, correlation, ground_truth_reliability,
    recorded_correlation,
};
use ista_nas::studies::rank::{
    EXACT_P_MAX_POINTS, average_ranks, kendall_p_value, kendall_tau_b, spearman_rho,
};

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("defined");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

/// x = [1, 2, 2, 3], y = [1, 3, 2, 2]: of the 6 pairs, 3 concordant, 1 discordant, one tied in
/// x only and one in y only: τ-b = (3 − 1) / √(5 · 5) = 0.4. Average ranks x = [1, 2.5, 2.5, 4],
/// y = [1, 4, 2.5, 2.5]: ρ = 2.25 / √(4.5 · 4.5) = 0.5.
#[test]
fn ties_in_both_variables() {
    let (x, y) = ([1.0, 2.0, 2.0, 3.0], [1.0, 3.0, 2.0, 2.0]);
    close(kendall_tau_b(&x, &y), 0.4);
    close(spearman_rho(&x, &y), 0.5);
    assert_eq!(average_ranks(&x), vec![1.0, 2.5, 2.5, 4.0]);
    assert_eq!(average_ranks(&y), vec![1.0, 4.0, 2.5, 2.5]);
}

/// x = [0.1, 0.2, 0.3, 0.4, 0.5], y = [0.3, 0.1, 0.2, 0.5, 0.4]: pairs (1,2), (1,3) and (4,5)
/// are discordant, the other 7 concordant: τ = 4/10. d = [2, −1, −1, 1, −1] in ranks, Σd² = 8:
/// ρ = 1 − 6·8 / (5·24) = 0.6.
#[test]
fn no_ties() {
    let x = [0.1, 0.2, 0.3, 0.4, 0.5];
    let y = [0.3, 0.1, 0.2, 0.5, 0.4];
    close(kendall_tau_b(&x, &y), 0.4);
    close(spearman_rho(&x, &y), 0.6);
}

/// Reversed order gives −1. Three tied values in x, x = [1, 1, 1, 2], y = [4, 3, 2, 1]: 3
/// discordant pairs and 3 tied in x: τ-b = −3 / √(3 · 6) = −1/√2. Ranks x = [2, 2, 2, 4],
/// y = [4, 3, 2, 1]: Σ(x − 2.5)(y − 2.5) = −3, Σ(x − 2.5)² = 3, Σ(y − 2.5)² = 5: ρ = −3/√15.
#[test]
fn reversed_and_triple_ties() {
    close(kendall_tau_b(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
    close(spearman_rho(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
    let (x, y) = ([1.0, 1.0, 1.0, 2.0], [4.0, 3.0, 2.0, 1.0]);
    close(kendall_tau_b(&x, &y), -1.0 / 2f64.sqrt());
    close(spearman_rho(&x, &y), -3.0 / 15f64.sqrt());
}

/// Permutations of 0..n by their number of inversions (Mahonian numbers), as probabilities:
/// the exact null distribution of Kendall's discordant pairs without ties.
fn inversions_distribution(n: usize) -> Vec<f64> {
    let mut counts = vec![1.0];
    for k in 2..=n {
        let mut next = vec![0.0; counts.len() + k - 1];
        for (i, c) in counts.iter().enumerate() {
            for slot in &mut next[i..i + k] {
                *slot += c;
            }
        }
        counts = next;
    }
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| c / total).collect()
}

/// y with exactly `discordant` pairs out of order against x = 0..n (the Lehmer code, greedy).
fn with_inversions(n: usize, mut discordant: usize) -> Vec<f64> {
    let mut left: Vec<usize> = (0..n).collect();
    let mut y = Vec::new();
    for remaining in (1..=n).rev() {
        let skip = discordant.min(remaining - 1);
        discordant -= skip;
        y.push(left.remove(skip) as f64);
    }
    y
}

/// The p-value against the exact null distribution: perfect order of 3 and 4 points is 1/3!
/// and 1/4!, reversed order 1; without ties P(τ ≥ observed) = P(inversions ≤ d), from the
/// Mahonian numbers, both where every ordering is enumerated (8, 9 points) and where random
/// orderings are drawn (12 points, within 4 standard errors of 200,000 draws).
#[test]
fn kendall_p_value_matches_the_exact_null() {
    let p = |x: &[f64], y: &[f64]| kendall_p_value(x, y).expect("defined");
    assert!((p(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]) - 1.0 / 6.0).abs() < 1e-12);
    assert!((p(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]) - 1.0 / 24.0).abs() < 1e-12);
    assert!((p(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) - 1.0).abs() < 1e-12);
    for (n, discordant) in [(8, 9), (9, 12), (12, 20), (12, 33)] {
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y = with_inversions(n, discordant);
        let pairs = n * (n - 1) / 2;
        let tau = (pairs as f64 - 2.0 * discordant as f64) / pairs as f64;
        close(kendall_tau_b(&x, &y), tau);
        let exact: f64 = inversions_distribution(n)[..=discordant].iter().sum();
        let got = p(&x, &y);
        let tolerance = if n <= EXACT_P_MAX_POINTS {
            1e-12
        } else {
            4.0 * (exact * (1.0 - exact) / 200_000.0).sqrt() + 1e-5
        };
        assert!(
            (got - exact).abs() < tolerance,
            "n={n} d={discordant}: {got} vs {exact}"
        );
    }
    // n = 8 with 9 discordant pairs (τ = 5/14 ≈ 0.357): 5546 of 40320 orderings.
    let x: Vec<f64> = (0..8).map(f64::from).collect();
    assert!((p(&x, &with_inversions(8, 9)) - 5546.0 / 40320.0).abs() < 1e-12);
}

/// With ties the orderings are counted as they fall: x = [1, 2, 2, 3], y = [1, 3, 2, 2]
/// (τ-b = 0.4) reach τ-b ≥ 0.4 in 10 of the 24 orderings of y. Undefined τ gives no p-value.
#[test]
fn kendall_p_value_with_ties_and_undefined() {
    let p = kendall_p_value(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 2.0]).unwrap();
    assert!((p - 10.0 / 24.0).abs() < 1e-12, "{p}");
    assert_eq!(kendall_p_value(&[1.0, 1.0], &[1.0, 2.0]), None);
}

/// Undefined cases are `None`, not NaN or a panic.
#[test]
fn undefined_cases() {
    assert_eq!(kendall_tau_b(&[1.0, 1.0], &[1.0, 2.0]), None);
    assert_eq!(spearman_rho(&[1.0, 2.0], &[3.0, 3.0]), None);
    assert_eq!(kendall_tau_b(&[1.0], &[1.0]), None);
    assert_eq!(spearman_rho(&[1.0, 2.0], &[1.0]), None);
}

/// The study's correlation uses supernet accuracy against stand-alone accuracy, and its CSV
/// quotes the genotype JSON.
#[test]
fn study_rows_to_correlation_and_csv() {
    let row = |seed, supernet, standalone| ConsistencyRow {
        seed,
        supernet_acc: supernet,
        recorded_supernet_acc: supernet,
        standalone_test_top1: standalone,
        standalone_std: 0.01,
        standalone_runs: 2,
        trainings_test_top1: vec![standalone - 0.01, standalone + 0.01],
        search_seconds: 1.0,
        train_seconds: 2.0,
        genotype: Genotype::load("ISTA_NAS").unwrap(),
    };
    let rows = [
        row(0, 0.1, 0.3),
        row(1, 0.2, 0.1),
        row(2, 0.3, 0.2),
        row(3, 0.4, 0.5),
        row(4, 0.5, 0.4),
    ];
    let c = correlation(&rows);
    assert_eq!(c.n, 5);
    close(c.kendall_tau, 0.4);
    close(c.spearman_rho, 0.6);
    let csv = consistency_csv(&rows);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(CONSISTENCY_CSV_HEADER));
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(
            "0,0.100000,0.100000,0.300000,0.010000,2,0.290000;0.310000,1.0,2.0,\"{\"\"normal\"\":"
        ),
        "{first}"
    );
    assert_eq!(csv.lines().count(), 6);
}

/// The ground truth's test–retest correlation pairs each genotype's first training with the
/// mean of its others; the recorded-score correlation reads the recorded supernet accuracy.
#[test]
fn ground_truth_retest_and_recorded_score() {
    let row = |seed, recorded: f64, trainings: Vec<f64>| ConsistencyRow {
        seed,
        supernet_acc: 0.5,
        recorded_supernet_acc: recorded,
        standalone_test_top1: trainings.iter().sum::<f64>() / trainings.len() as f64,
        standalone_std: 0.0,
        standalone_runs: trainings.len(),
        trainings_test_top1: trainings,
        search_seconds: 1.0,
        train_seconds: 2.0,
        genotype: Genotype::load("ISTA_NAS").unwrap(),
    };
    // first trainings 0.1 < 0.2 < 0.3 < 0.4; the others' means 0.35, 0.25, 0.45, 0.55:
    // one discordant pair of six, τ = (5 − 1) / 6
    let rows = [
        row(0, 0.4, vec![0.1, 0.3, 0.4]),
        row(1, 0.3, vec![0.2, 0.2, 0.3]),
        row(2, 0.2, vec![0.3, 0.4, 0.5]),
        row(3, 0.1, vec![0.4, 0.5, 0.6]),
    ];
    let retest = ground_truth_reliability(&rows).expect("three trainings each");
    assert_eq!(retest.n, 4);
    close(retest.kendall_tau, 4.0 / 6.0);
    // the recorded score falls as the stand-alone means rise, except for seeds 0 and 1
    let recorded = recorded_correlation(&rows);
    close(recorded.kendall_tau, -4.0 / 6.0);
    // the (constant) recalibrated score has no correlation
    assert_eq!(correlation(&rows).kendall_tau, None);
    let single = [row(0, 0.1, vec![0.1]), row(1, 0.2, vec![0.2])];
    assert!(ground_truth_reliability(&single).is_none());
}
