//! The project's binary file frame, used by checkpoints and model files: an 8-byte signature,
//! a u64 (LE) length, a JSON header (the caller's header plus the record lengths), then the
//! binary records. Written to a temporary file, synced, then renamed, so a crash never leaves
//! a half-written file. Also the atomic write of the run folders' text files.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a framed file could not be written or read.
#[derive(Debug, Error)]
pub enum FileError {
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not this kind of file, truncated, or from an incompatible version.
    #[error("{path} is not a usable {kind}: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the file should have been.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// The kind of a framed file: its signature and its name in messages.
#[derive(Clone, Copy, Debug)]
pub struct FrameKind {
    /// First 8 bytes.
    pub magic: &'static [u8; 8],
    /// Name in error messages.
    pub name: &'static str,
}

#[derive(Serialize, Deserialize)]
struct Envelope<H> {
    header: H,
    record_lengths: Vec<usize>,
}

/// Writes `contents` to `path` so that a crash at any moment leaves either the old file or the
/// new one: a temporary file is written and synced, renamed over `path`, and the folder synced.
/// A failed write removes the temporary file and leaves `path` as it was.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = write_synced(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_folder(path)
}

/// Writes and syncs a whole file.
fn write_synced(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    let (first, rest) = contents.split_at(contents.len() / 2);
    file.write_all(first)?;
    pause_for_fault_tests();
    file.write_all(rest)?;
    file.sync_all()
}

/// Syncs the folder that holds `path`, so a rename in it survives a power loss.
pub fn sync_folder(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    std::fs::File::open(parent)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = parent;
    Ok(())
}

/// Milliseconds to wait halfway through writing a file, from the environment variable
/// `ISTA_NAS_WRITE_PAUSE_MS` (unset: none). It widens the window in which the kill tests stop
/// a run in the middle of a write, leaving a half-written temporary file.
fn pause_for_fault_tests() {
    if let Some(ms) = std::env::var("ISTA_NAS_WRITE_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// True when the file at `path` starts with the signature of `kind` (of any format version).
pub fn has_signature(path: &Path, kind: FrameKind) -> bool {
    let mut start = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| is_signed(&start, kind))
}

/// True when `bytes` start with the signature of `kind` (of any format version).
pub fn is_signed(bytes: &[u8], kind: FrameKind) -> bool {
    bytes.len() >= 8 && bytes[..7] == kind.magic[..7]
}

/// Writes `header` and `records` atomically to `path` as a file of `kind`.
pub fn save<H: Serialize>(
    path: &Path,
    kind: FrameKind,
    header: &H,
    records: &[Vec<u8>],
) -> Result<(), FileError> {
    let envelope = Envelope {
        header,
        record_lengths: records.iter().map(Vec::len).collect(),
    };
    let json = serde_json::to_vec(&envelope).expect("headers always serialise");
    let mut bytes =
        Vec::with_capacity(16 + json.len() + records.iter().map(Vec::len).sum::<usize>());
    bytes.extend_from_slice(kind.magic);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for record in records {
        bytes.extend_from_slice(record);
    }
    write_atomic(path, &bytes).map_err(|source| FileError::Io {
        path: path.into(),
        source,
    })
}

/// Reads a file of `kind` that must hold exactly `N` records.
pub fn load_exact<H: DeserializeOwned, const N: usize>(
    path: &Path,
    kind: FrameKind,
) -> Result<(H, [Vec<u8>; N]), FileError> {
    parse_exact(&read(path)?, path, kind)
}

/// The bytes of the file at `path`.
pub fn read(path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|source| FileError::Io {
        path: path.into(),
        source,
    })
}

/// Checks and splits the bytes of a file of `kind` that must hold exactly `N` records.
pub fn parse_exact<H: DeserializeOwned, const N: usize>(
    bytes: &[u8],
    path: &Path,
    kind: FrameKind,
) -> Result<(H, [Vec<u8>; N]), FileError> {
    let (header, records) = parse(bytes, path, kind)?;
    let records = records
        .try_into()
        .map_err(|r: Vec<Vec<u8>>| FileError::Corrupt {
            path: path.into(),
            kind: kind.name,
            why: format!("{} records, expected {N}", r.len()),
        })?;
    Ok((header, records))
}

impl From<FileError> for crate::error::IstaError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io { path, source } => Self::Io { path, source },
            corrupt => Self::Checkpoint(corrupt.to_string()),
        }
    }
}

/// Reads and checks a file of `kind`: its header and records.
pub fn load<H: DeserializeOwned>(
    path: &Path,
    kind: FrameKind,
) -> Result<(H, Vec<Vec<u8>>), FileError> {
    parse(&read(path)?, path, kind)
}

/// Checks and splits the bytes of a file of `kind` (`path` names it in errors): its header
/// and records.
pub fn parse<H: DeserializeOwned>(
    bytes: &[u8],
    path: &Path,
    kind: FrameKind,
) -> Result<(H, Vec<Vec<u8>>), FileError> {
    let corrupt = |why: String| FileError::Corrupt {
        path: path.into(),
        kind: kind.name,
        why,
    };
    if bytes.len() >= 8 && bytes[..7] == kind.magic[..7] && bytes[7] != kind.magic[7] {
        return Err(corrupt(format!(
            "it is format {} of an earlier or later ista-nas, and this version reads format {}",
            bytes[7], kind.magic[7]
        )));
    }
    if bytes.len() < 16 || &bytes[..8] != kind.magic {
        return Err(corrupt(format!("no {} signature", kind.name)));
    }
    let header_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let body = &bytes[16..];
    if body.len() < header_len {
        return Err(corrupt(format!(
            "header of {header_len} bytes, only {} present",
            body.len()
        )));
    }
    let envelope: Envelope<H> = serde_json::from_slice(&body[..header_len])
        .map_err(|e| corrupt(format!("bad header: {e}")))?;
    let mut rest = &body[header_len..];
    let expected = envelope
        .record_lengths
        .iter()
        .try_fold(0usize, |sum, &len| sum.checked_add(len));
    if expected != Some(rest.len()) {
        return Err(corrupt(match expected {
            Some(expected) => format!(
                "{} record bytes, expected {expected} (truncated?)",
                rest.len()
            ),
            None => "record lengths that overflow the address space".into(),
        }));
    }
    let records = envelope
        .record_lengths
        .iter()
        .map(|&len| {
            let (record, tail) = rest.split_at(len);
            rest = tail;
            record.to_vec()
        })
        .collect();
    Ok((envelope.header, records))
}
