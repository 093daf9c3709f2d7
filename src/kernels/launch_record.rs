//! The project's own kernel launches on this thread, by kernel and grid, while a recording is
//! open: what the tests compare launch by launch with the walk of `bench --shapes`.

use std::cell::RefCell;

use burn::cubecl::CubeCount;

/// One launch: the kernel (its shader's file name, as launch plans name it) and its grid.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recorded {
    /// The kernel.
    pub kernel: &'static str,
    /// Workgroups along x, y and z.
    pub groups: [usize; 3],
}

thread_local! {
    static RECORD: RefCell<Option<Vec<Recorded>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns what it returns with every own launch it issued on this thread.
pub fn record_launches<T>(f: impl FnOnce() -> T) -> (T, Vec<Recorded>) {
    let outer = RECORD.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let recorded = RECORD.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer));
    (out, recorded.unwrap_or_default())
}

/// Notes a launch of `kernel` on `count` workgroups, when a recording is open.
pub(super) fn note(kernel: &'static str, count: &CubeCount) {
    RECORD.with(|r| {
        if let Some(record) = r.borrow_mut().as_mut() {
            let groups = match count {
                CubeCount::Static(x, y, z) => [*x, *y, *z].map(|g| g as usize),
                _ => [0; 3],
            };
            record.push(Recorded { kernel, groups });
        }
    });
}
