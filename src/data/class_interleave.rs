//! The order of an ImageFolder listing: classes interleaved in proportion, so that every prefix
//! (`--train-images N`) and the search's halves of it hold each class at its share of the
//! whole set, not the first classes only.
//!
//! The order solves the chairman assignment problem (Tijdeman, 1980): for k classes of shares
//! p_c = n_c / N, after any n images each class has been taken within
//! B = 1 − 1/(2(k−1)) < 1 of n·p_c. Each class's next image has a window of positions that
//! keeps its count inside the bound; placing, at every position, the released image whose
//! window closes first (earliest deadline first) meets every window, since a placement that
//! does exists. It depends on the class sizes alone: no seed, the same for every run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The class of each position of a listing with `counts[c]` images of class `c`, interleaved
/// so that every prefix of length n holds each class within less than one image of
/// n·counts[c]/total.
pub fn interleave(counts: &[usize]) -> Vec<u32> {
    let total: usize = counts.iter().sum();
    let classes = counts.iter().filter(|&&n| n > 0).count();
    if classes <= 1 {
        let only = counts.iter().position(|&n| n > 0).unwrap_or(0) as u32;
        return vec![only; total];
    }
    // The bound B = bound / scale, kept as integers so that the windows are exact.
    let scale = 2 * classes as u128 - 2;
    let bound = scale - 1;
    let total_w = total as u128;
    // The first position at which taking image `j` (1-based) of class `c` keeps its count at
    // most n·p_c + B, and the last at which it may still be taken without its count falling
    // below n·p_c − B.
    let release = |c: usize, j: usize| -> usize {
        let (num, den) = (
            (j as u128 * scale - bound) * total_w,
            counts[c] as u128 * scale,
        );
        (num.div_ceil(den) as usize).max(1)
    };
    let deadline = |c: usize, j: usize| -> usize {
        let (num, den) = (
            ((j as u128 - 1) * scale + bound) * total_w,
            counts[c] as u128 * scale,
        );
        (num / den) as usize + 1
    };
    let mut pending: BinaryHeap<Reverse<(usize, usize)>> = (0..counts.len())
        .filter(|&c| counts[c] > 0)
        .map(|c| Reverse((release(c, 1), c)))
        .collect();
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> = BinaryHeap::new();
    let mut taken = vec![0usize; counts.len()];
    let mut order = Vec::with_capacity(total);
    for n in 1..=total {
        while let Some(&Reverse((at, c))) = pending.peek() {
            if at > n {
                break;
            }
            pending.pop();
            ready.push(Reverse((deadline(c, taken[c] + 1), c)));
        }
        // A feasible order always has an image released; should rounding ever leave none, the
        // earliest one is taken early rather than failing.
        let Some(Reverse((_, c))) = ready.pop().or_else(|| pending.pop()) else {
            break;
        };
        taken[c] += 1;
        order.push(c as u32);
        if taken[c] < counts[c] {
            pending.push(Reverse((release(c, taken[c] + 1), c)));
        }
    }
    order
}

/// The items of `per_class[c]` (each class in its own order) as one interleaved list of
/// `(item, class)` pairs (see [`interleave`]).
pub fn interleave_items<T>(per_class: Vec<Vec<T>>) -> Vec<(T, u32)> {
    let counts: Vec<usize> = per_class.iter().map(Vec::len).collect();
    let mut queues: Vec<std::vec::IntoIter<T>> =
        per_class.into_iter().map(Vec::into_iter).collect();
    interleave(&counts)
        .into_iter()
        .filter_map(|c| queues[c as usize].next().map(|item| (item, c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::interleave;

    #[test]
    fn equal_classes_take_turns() {
        assert_eq!(interleave(&[3, 3, 3]), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
        assert_eq!(interleave(&[2, 0, 2]), [0, 2, 0, 2]);
    }

    #[test]
    fn one_or_no_class() {
        assert_eq!(interleave(&[0, 4, 0]), [1, 1, 1, 1]);
        assert!(interleave(&[]).is_empty());
        assert!(interleave(&[0, 0]).is_empty());
    }
}
