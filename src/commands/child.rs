//! Running this executable as a child process (bench cases, the runs of a consistency study).

use std::process::Command;

use anyhow::Context;
use clap::ValueEnum;

/// A command that runs this `ista-nas` executable.
pub fn ista_nas() -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("cannot find the ista-nas executable")?;
    Ok(Command::new(exe))
}

/// The command-line spelling of an option value.
pub fn value_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}
