//! Counting the kernel launches (GPU dispatches) a piece of work issues, per kernel, through
//! CubeCL's launch observer. Burn's CPU backend launches no kernels, so nothing is counted there.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use burn::cubecl::logging::{LaunchObservation, LaunchObserver};

#[derive(Default)]
struct Counter(Mutex<BTreeMap<&'static str, u64>>);

impl LaunchObserver for Counter {
    fn launched(&self, kernel: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kernel)
            .or_default() += 1;
    }
}

/// Runs `f` and returns its result with the launches it issued, per kernel name.
pub fn count_dispatches<T>(f: impl FnOnce() -> T) -> (T, BTreeMap<String, u64>) {
    let counter = Arc::new(Counter::default());
    let watching = LaunchObservation::new(counter.clone());
    let out = f();
    drop(watching);
    let counts = std::mem::take(&mut *counter.0.lock().unwrap_or_else(|e| e.into_inner()));
    let named = counts
        .into_iter()
        .map(|(name, n)| (short_name(name), n))
        .fold(BTreeMap::new(), |mut acc, (name, n)| {
            *acc.entry(name).or_default() += n;
            acc
        });
    (out, named)
}

/// A kernel's type name without module paths (`burn_cubecl::kernel::Foo<f32>` → `Foo<f32>`).
fn short_name(name: &str) -> String {
    let mut out = String::new();
    let mut segment = String::new();
    for ch in name.chars() {
        if matches!(ch, '<' | '>' | ',' | ' ') {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            if ch != ' ' {
                out.push(ch);
            }
        } else {
            segment.push(ch);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_names_lose_their_paths() {
        assert_eq!(
            super::short_name("burn_cubecl::kernel::Conv<cubecl::F32, u32>"),
            "Conv<F32,u32>"
        );
    }
}
