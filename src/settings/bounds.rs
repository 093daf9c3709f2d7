//! Range checks of numeric settings, each naming the CLI option it checks.

/// `value` must be a finite number above 0.
pub fn positive(flag: &str, value: f64) -> Option<String> {
    (!(value.is_finite() && value > 0.0))
        .then(|| format!("{flag} must be a finite number above 0; got {value}"))
}

/// `value` must be a finite number of at least 0.
pub fn non_negative(flag: &str, value: f64) -> Option<String> {
    (!(value.is_finite() && value >= 0.0))
        .then(|| format!("{flag} must be a finite number of at least 0; got {value}"))
}

/// `value` must lie in [0, 1).
pub fn fraction(flag: &str, value: f64) -> Option<String> {
    (!(0.0..1.0).contains(&value)).then(|| format!("{flag} must lie in [0, 1); got {value}"))
}

/// `value` must be at least `least`.
pub fn at_least(flag: &str, value: usize, least: usize) -> Option<String> {
    (value < least).then(|| format!("{flag} must be at least {least}; got {value}"))
}

/// `value` must lie in `least..=most`.
pub fn within(flag: &str, value: usize, least: usize, most: usize) -> Option<String> {
    (!(least..=most).contains(&value))
        .then(|| format!("{flag} must lie in {least}..={most}; got {value}"))
}

/// A count given as `Some(n)` must be at least `least`; `None` (all) is fine.
pub fn some_at_least(flag: &str, value: Option<usize>, least: usize) -> Option<String> {
    value.and_then(|n| at_least(flag, n, least))
}

/// The first problem of `checks`, in order.
pub fn first(checks: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    checks.into_iter().flatten().next()
}
