//! One file per subcommand.

pub mod device;
pub mod recover;
