//! Rank correlations between supernet and stand-alone accuracies (docs/method.md §8): Kendall τ-b and
//! Spearman ρ, both correct with ties, and a permutation p-value for τ-b.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Up to this many points the p-value enumerates every ordering (9! = 362,880).
pub const EXACT_P_MAX_POINTS: usize = 9;

/// Random orderings drawn for the p-value beyond [`EXACT_P_MAX_POINTS`].
pub const P_VALUE_DRAWS: usize = 200_000;

/// Kendall's τ-b: (concordant − discordant) / √((n₀ − tiesₓ)(n₀ − tiesᵧ)) over all pairs.
///
/// `None` when the lengths differ, there are fewer than two points, or one side is constant.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (mut concordant, mut discordant) = (0i64, 0i64);
    let (mut ties_x, mut ties_y, mut pairs) = (0i64, 0i64, 0i64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            pairs += 1;
            let dx = x[i].total_cmp(&x[j]) as i64;
            let dy = y[i].total_cmp(&y[j]) as i64;
            if dx == 0 {
                ties_x += 1;
            }
            if dy == 0 {
                ties_y += 1;
            }
            match dx * dy {
                1 => concordant += 1,
                -1 => discordant += 1,
                _ => {}
            }
        }
    }
    let denominator = (((pairs - ties_x) * (pairs - ties_y)) as f64).sqrt();
    (denominator > 0.0).then(|| (concordant - discordant) as f64 / denominator)
}

/// One-sided p-value of Kendall's τ-b against "no association": the share of the orderings
/// of `y`, all equally likely under that null, whose τ-b with `x` is at least the observed one.
///
/// Exact (every ordering) up to [`EXACT_P_MAX_POINTS`] points; beyond, [`P_VALUE_DRAWS`]
/// random orderings from a fixed seed, as (1 + hits) / (1 + draws). Ties count as they fall.
/// `None` where τ-b is undefined.
pub fn kendall_p_value(x: &[f64], y: &[f64]) -> Option<f64> {
    let observed = kendall_tau_b(x, y)? - 1e-12;
    let mut order = y.to_vec();
    let at_least = |order: &[f64]| kendall_tau_b(x, order).is_some_and(|t| t >= observed);
    if x.len() <= EXACT_P_MAX_POINTS {
        let (mut hits, mut total) = (0u64, 0u64);
        heap_permutations(&mut order, x.len(), &mut |order| {
            total += 1;
            hits += u64::from(at_least(order));
        });
        return Some(hits as f64 / total as f64);
    }
    let mut rng = StdRng::seed_from_u64(0x7a75);
    let hits = (0..P_VALUE_DRAWS)
        .filter(|_| {
            order.shuffle(&mut rng);
            at_least(&order)
        })
        .count();
    Some((1 + hits) as f64 / (1 + P_VALUE_DRAWS) as f64)
}

/// Calls `visit` once with each ordering of `values[..k]` (Heap's algorithm).
fn heap_permutations(values: &mut [f64], k: usize, visit: &mut impl FnMut(&[f64])) {
    if k <= 1 {
        visit(values);
        return;
    }
    for i in 0..k - 1 {
        heap_permutations(values, k - 1, visit);
        let j = if k.is_multiple_of(2) { i } else { 0 };
        values.swap(j, k - 1);
    }
    heap_permutations(values, k - 1, visit);
}

/// Ranks from 1, tied values sharing the mean of their ranks.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let mean_rank = (start + end + 1) as f64 / 2.0; // ranks start+1 ..= end
        for &i in &order[start..end] {
            ranks[i] = mean_rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's ρ: Pearson correlation of the average ranks.
///
/// `None` when the lengths differ, there are fewer than two points, or one side is constant.
pub fn spearman_rho(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}
