//! Presets: the built-in starting points, shipped as readable JSON in `presets/`, and preset
//! files, which override any subset of a built-in's settings.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use thiserror::Error;

/// Why a preset or saved settings file could not be used.
#[derive(Debug, Error)]
pub enum SettingsError {
    /// No built-in of that name, and no such file.
    #[error("no preset `{name}`: the built-ins of `{command}` are {known}, or give a JSON file")]
    Unknown {
        /// What was asked for.
        name: String,
        /// The command.
        command: &'static str,
        /// Its built-in names.
        known: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a JSON object of this command's settings.
    #[error("{path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
}

/// The commands that take presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetCommand {
    /// `search` (ISTA-NAS, DARTS, PC-DARTS).
    Search,
    /// `search --method ista-one-stage`.
    OneStage,
    /// `train`.
    Train,
}

impl PresetCommand {
    /// The name in file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            PresetCommand::Search => "search",
            PresetCommand::OneStage => "one-stage",
            PresetCommand::Train => "train",
        }
    }

    /// The built-in preset names.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            PresetCommand::Search | PresetCommand::OneStage => &["quick", "paper"],
            PresetCommand::Train => &["quick", "cifar", "imagenet"],
        }
    }
}

/// Every built-in preset: its file name in `presets/` and its JSON.
pub const BUILT_IN: [(&str, &str); 10] = [
    (
        "search-quick",
        include_str!("../../presets/search-quick.json"),
    ),
    (
        "search-quick-pc-darts",
        include_str!("../../presets/search-quick-pc-darts.json"),
    ),
    (
        "search-paper",
        include_str!("../../presets/search-paper.json"),
    ),
    (
        "search-paper-darts",
        include_str!("../../presets/search-paper-darts.json"),
    ),
    (
        "search-paper-pc-darts",
        include_str!("../../presets/search-paper-pc-darts.json"),
    ),
    (
        "one-stage-quick",
        include_str!("../../presets/one-stage-quick.json"),
    ),
    (
        "one-stage-paper",
        include_str!("../../presets/one-stage-paper.json"),
    ),
    (
        "train-quick",
        include_str!("../../presets/train-quick.json"),
    ),
    (
        "train-cifar",
        include_str!("../../presets/train-cifar.json"),
    ),
    (
        "train-imagenet",
        include_str!("../../presets/train-imagenet.json"),
    ),
];

/// Keys of a preset that are not settings: a description, and a file's base preset.
const NOTES: [&str; 2] = ["about", "preset"];

/// The settings of built-in `name` of `command` (the method's own variant when it has one).
pub fn built_in(
    command: PresetCommand,
    name: &str,
    method: Option<&str>,
) -> Option<Map<String, Value>> {
    let stem = format!("{}-{name}", command.name());
    let variant = method.map(|m| format!("{stem}-{m}"));
    let text = BUILT_IN
        .iter()
        .find(|(file, _)| Some(*file) == variant.as_deref())
        .or_else(|| BUILT_IN.iter().find(|(file, _)| *file == stem))?
        .1;
    let Ok(Value::Object(mut map)) = serde_json::from_str(text) else {
        unreachable!("built-in preset {stem} is a JSON object (tests/presets.rs)")
    };
    for note in NOTES {
        map.remove(note);
    }
    Some(map)
}

/// The settings `spec` names: a built-in (for `method`) or a JSON file of settings, layered
/// over the built-in its `"preset"` key names (default `quick`). `extra` lists keys the command
/// fills itself (train's `genotype`).
pub fn resolve(
    command: PresetCommand,
    spec: &str,
    method: Option<&str>,
    extra: &[&str],
) -> Result<Map<String, Value>, SettingsError> {
    if let Some(map) = built_in(command, spec, method) {
        return Ok(map);
    }
    let path = Path::new(spec);
    if !path.is_file() {
        return Err(SettingsError::Unknown {
            name: spec.into(),
            command: command.name(),
            known: command.names().join(", "),
        });
    }
    let file = read_object(path)?;
    let base_name = match file.get("preset") {
        None => "quick",
        Some(Value::String(name)) => name.as_str(),
        Some(other) => {
            return Err(invalid(
                path,
                format!("\"preset\" must be a name, not {other}"),
            ));
        }
    };
    let mut map = built_in(command, base_name, method).ok_or_else(|| {
        invalid(
            path,
            format!(
                "\"preset\": no built-in `{base_name}` (the built-ins of `{}` are {})",
                command.name(),
                command.names().join(", ")
            ),
        )
    })?;
    overlay(&mut map, file, extra).map_err(|why| invalid(path, why))?;
    Ok(map)
}

/// The settings saved in a run's `config.json` (`path` is the file or its run folder).
pub fn saved(path: &Path) -> Result<Map<String, Value>, SettingsError> {
    let file = if path.is_dir() {
        path.join("config.json")
    } else {
        path.to_path_buf()
    };
    read_object(&file)
}

/// Replaces `map`'s settings with those of `file`, refusing keys `map` does not have.
pub fn overlay(
    map: &mut Map<String, Value>,
    file: Map<String, Value>,
    extra: &[&str],
) -> Result<(), String> {
    for (key, value) in file {
        if NOTES.contains(&key.as_str()) {
            continue;
        }
        if !map.contains_key(&key) && !extra.contains(&key.as_str()) {
            let mut known: Vec<_> = map
                .keys()
                .map(String::as_str)
                .chain(extra.iter().copied())
                .collect();
            known.sort_unstable();
            return Err(format!(
                "unknown setting \"{key}\" (settings: {})",
                known.join(", ")
            ));
        }
        map.insert(key, value);
    }
    Ok(())
}

/// Builds settings of type `T` from `map`, with `path` naming the source in errors.
pub fn settings<T: DeserializeOwned>(
    map: Map<String, Value>,
    source: &str,
) -> Result<T, SettingsError> {
    serde_json::from_value(Value::Object(map)).map_err(|e| SettingsError::Invalid {
        path: source.into(),
        why: e.to_string(),
    })
}

/// `value` as a settings map (for tests and for overriding typed settings).
pub fn to_map(value: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn read_object(path: &Path) -> Result<Map<String, Value>, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Io {
        path: path.display().to_string(),
        source,
    })?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid(path, "not a JSON object of settings".into())),
        Err(e) => Err(invalid(path, format!("not JSON: {e}"))),
    }
}

fn invalid(path: &Path, why: String) -> SettingsError {
    SettingsError::Invalid {
        path: path.display().to_string(),
        why,
    }
}
