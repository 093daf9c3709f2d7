//! One process per run folder: a run that creates or resumes a folder first takes an exclusive
//! advisory lock on its `.lock` file (`flock` on Unix, `LockFileEx` on Windows, through
//! `std::fs::File::try_lock`). The OS releases it when the holder exits or dies, so a killed run
//! never leaves a stale lock. A second process refuses at once, naming the holder's pid, before it
//! writes anything. Shards of one study share their study folder (a shared lock, and an exclusive
//! one per shard). Read-only commands take no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{IstaError, Result};

/// The lock file in a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Locks this process holds, with the canonical folder and file they guard; kept until exit.
static HELD: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

/// Takes the exclusive lock of run folder `dir` (created if missing) for the rest of this
/// process; `IstaError::InUse` naming the holder's pid when another process holds it.
pub fn hold(dir: &Path) -> Result<()> {
    take(dir, LOCK_FILE, true)
}

/// [`hold`] for a folder a run resumes: nothing when it does not exist (the resume then fails
/// on its missing checkpoint, and no folder is made for it).
pub fn hold_existing(dir: &Path) -> Result<()> {
    if dir.is_dir() { hold(dir) } else { Ok(()) }
}

/// Takes shard `index` of `count`'s lock on the study folder `dir`: shared on `.lock` (other
/// shards run beside it; a whole study or a search cannot) and exclusive on
/// `.lock-shard-<index>-of-<count>`.
pub fn hold_shard(dir: &Path, index: usize, count: usize) -> Result<()> {
    take(dir, LOCK_FILE, false)?;
    take(dir, &format!("{LOCK_FILE}-shard-{index}-of-{count}"), true)
}

fn io(path: &Path, source: std::io::Error) -> IstaError {
    IstaError::Io {
        path: path.into(),
        source,
    }
}

fn take(dir: &Path, name: &str, exclusive: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let path = dir.join(name);
    let key = dir.canonicalize().map_err(|e| io(dir, e))?.join(name);
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if held.iter().any(|(p, _)| *p == key) {
        return Ok(()); // this process holds it already
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    let taken = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match taken {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(IstaError::InUse {
                path: dir.into(),
                pid: holder_pid(&mut file),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(&path, e)),
    }
    if exclusive {
        // the holder's pid, for the message a second process prints
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        written.map_err(|e| io(&path, e))?;
    }
    held.push((key, file));
    Ok(())
}

/// The pid a lock's holder writes into it just after taking it: read again for up to 200 ms
/// while the file is still empty, so a process that asks at that moment still names it.
fn holder_pid(file: &mut File) -> Option<u32> {
    for _ in 0..20 {
        let mut text = String::new();
        let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
        if let (Ok(_), Ok(pid)) = (read, text.trim().parse()) {
            return Some(pid);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}
