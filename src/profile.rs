//! Where a step's time goes: named, nested scopes timed on the host while profiling is on.
//!
//! Scopes nest as `phase/op` (for example `weight.backward/depthwise conv`). While profiling,
//! each scope waits for the device before and after it, so on a GPU the figures are each part's
//! own cost without overlap; on Burn's CPU backend work runs eagerly and nothing changes. With
//! profiling off a scope costs one atomic load.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

static ENABLED: AtomicBool = AtomicBool::new(false);
static TABLE: Mutex<BTreeMap<String, Timing>> = Mutex::new(BTreeMap::new());

thread_local! {
    static STACK: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    static DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// Calls and total seconds of one scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Times the scope ran.
    pub calls: u64,
    /// Seconds inside it, nested scopes included.
    pub seconds: f64,
}

/// One row of a profile: a scope path and its timing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileRow {
    /// `phase` or `phase/op`.
    pub scope: String,
    /// Calls and seconds.
    pub timing: Timing,
}

/// Starts collecting (clearing what was collected), waiting on `device` at each scope boundary.
pub fn start(device: &Device) {
    TABLE.lock().unwrap_or_else(|e| e.into_inner()).clear();
    DEVICE.with(|d| *d.borrow_mut() = Some(device.clone()));
    ENABLED.store(true, Ordering::Relaxed);
}

/// Stops collecting and returns every scope, in path order.
pub fn stop() -> Vec<ProfileRow> {
    ENABLED.store(false, Ordering::Relaxed);
    DEVICE.with(|d| *d.borrow_mut() = None);
    let table = std::mem::take(&mut *TABLE.lock().unwrap_or_else(|e| e.into_inner()));
    table
        .into_iter()
        .map(|(scope, timing)| ProfileRow { scope, timing })
        .collect()
}

/// True while a profile is being collected.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn wait_for_device() {
    DEVICE.with(|d| {
        if let Some(device) = d.borrow().as_ref() {
            // A failed sync shows up again at the next read; the profile only needs the wait.
            let _ = device.sync();
        }
    });
}

/// Runs `f` as the scope `name`, inside whatever scope is open on this thread.
pub fn scope<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    wait_for_device();
    let path = STACK.with(|s| {
        let mut stack = s.borrow_mut();
        stack.push(name);
        stack.join("/")
    });
    let start = Instant::now();
    let out = f();
    wait_for_device();
    let seconds = start.elapsed().as_secs_f64();
    STACK.with(|s| s.borrow_mut().pop());
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let entry = table.entry(path).or_default();
    entry.calls += 1;
    entry.seconds += seconds;
    out
}

/// Rows with their self time: a scope's seconds less those of the scopes directly inside it.
pub fn self_seconds(rows: &[ProfileRow]) -> Vec<(String, Timing, f64)> {
    rows.iter()
        .map(|row| {
            let prefix = format!("{}/", row.scope);
            let inner: f64 = rows
                .iter()
                .filter(|r| {
                    r.scope
                        .strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('/'))
                })
                .map(|r| r.timing.seconds)
                .sum();
            (row.scope.clone(), row.timing, row.timing.seconds - inner)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_time_subtracts_direct_children_only() {
        let row = |scope: &str, seconds| ProfileRow {
            scope: scope.into(),
            timing: Timing { calls: 1, seconds },
        };
        let rows = [
            row("a", 10.0),
            row("a/b", 4.0),
            row("a/b/c", 1.0),
            row("a/d", 2.0),
        ];
        let selfs: Vec<f64> = self_seconds(&rows).iter().map(|r| r.2).collect();
        assert_eq!(selfs, vec![4.0, 3.0, 1.0, 2.0]);
    }
}
