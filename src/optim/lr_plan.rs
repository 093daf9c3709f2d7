//! A run's learning rate epoch by epoch, in the lines a run prints before it starts: the plan,
//! and a warning naming the epochs that would barely train (lr under 1 % of its peak, lr 0
//! included), which short runs meet because the reference schedules end at their minimum.

/// Share of the peak learning rate under which an epoch is named in the warning.
pub const LOW_LR_SHARE: f64 = 0.01;

/// The learning rates of `epochs` epochs (epoch e from 0 at `lr_at(e)`), in a line: every value
/// up to 6 epochs, else the first three and the last two.
pub fn lr_plan_line(lr_at: impl Fn(usize) -> f64, epochs: usize) -> String {
    let shown = |e: usize| format!("{:.4}", lr_at(e));
    let values: Vec<String> = if epochs <= 6 {
        (0..epochs).map(shown).collect()
    } else {
        let mut v: Vec<String> = (0..3).map(shown).collect();
        v.push("…".into());
        v.extend((epochs - 2..epochs).map(shown));
        v
    };
    format!("lr by epoch: {}", values.join(", "))
}

/// The epochs (from 1) of `epochs` whose learning rate is under [`LOW_LR_SHARE`] of `peak`, as
/// ranges (`3`, `5–9`); empty when there are none.
pub fn low_lr_epochs(lr_at: impl Fn(usize) -> f64, epochs: usize, peak: f64) -> Vec<String> {
    let low: Vec<usize> = (0..epochs)
        .filter(|&e| lr_at(e) < LOW_LR_SHARE * peak)
        .map(|e| e + 1)
        .collect();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for e in low {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == e => *end = e,
            _ => ranges.push((e, e)),
        }
    }
    ranges
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect()
}

/// The warning for the epochs of [`low_lr_epochs`], or `None`; `why` says what makes the
/// schedule end low (e.g. that it is stepped before each epoch).
pub fn low_lr_warning(
    lr_at: impl Fn(usize) -> f64,
    epochs: usize,
    peak: f64,
    why: &str,
) -> Option<String> {
    let low = low_lr_epochs(&lr_at, epochs, peak);
    if low.is_empty() {
        return None;
    }
    let (noun, verb) = if low.len() == 1 && !low[0].contains('–') {
        ("epoch", "trains")
    } else {
        ("epochs", "train")
    };
    Some(format!(
        "warning: {noun} {} of {epochs} {verb} at under 1 % of the peak lr {peak} ({why}); \
         more epochs or a higher --lr-min keep the last ones learning",
        low.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::cosine_lr;

    #[test]
    fn the_plan_shows_every_epoch_or_both_ends() {
        let three = lr_plan_line(|e| cosine_lr(0.1, 0.0, e + 1, 3), 3);
        assert_eq!(three, "lr by epoch: 0.0750, 0.0250, 0.0000");
        let fifty = lr_plan_line(|e| cosine_lr(0.1, 0.0, e + 1, 50), 50);
        assert_eq!(
            fifty,
            "lr by epoch: 0.0999, 0.0996, 0.0991, …, 0.0001, 0.0000"
        );
    }

    #[test]
    fn low_epochs_are_named_as_ranges() {
        // stepped before each epoch: the last epoch of any cosine run to 0 trains at 0
        let at = |e: usize| cosine_lr(0.1, 0.0, e + 1, 3);
        assert_eq!(low_lr_epochs(at, 3, 0.1), ["3"]);
        let warning = low_lr_warning(at, 3, 0.1, "why").unwrap();
        assert!(
            warning.starts_with("warning: epoch 3 of 3 trains"),
            "{warning}"
        );
        // 600 epochs: epoch n trains at ½(1 + cos(πn/600)) of the peak, under 1 % from
        // n > 600·(1 − arccos(0.98)/π) = 561.7
        let at = |e: usize| cosine_lr(0.025, 0.0, e + 1, 600);
        assert_eq!(low_lr_epochs(at, 600, 0.025), ["562–600"]);
        // a minimum at 1 % of the peak or above: nothing to say
        let at = |e: usize| cosine_lr(0.1, 0.001, e + 1, 3);
        assert!(low_lr_warning(at, 3, 0.1, "why").is_none());
        // stepped after each epoch (one-stage): the first epoch is at the peak
        let at = |e: usize| cosine_lr(0.1, 0.0, e, 2);
        assert!(low_lr_epochs(at, 2, 0.1).is_empty());
    }
}
