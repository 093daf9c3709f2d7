//! One file per subcommand.

pub mod data;
pub mod device;
pub mod recover;
pub mod search;
