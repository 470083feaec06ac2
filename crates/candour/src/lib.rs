//! The pieces of the `candour` command that tests use too: opening the database, serving,
//! and the demonstration site.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod bundle;
pub mod demo;
mod demo_stats;
pub mod server;

// The command line itself (`main.rs`) shares this package's dependencies; these are its own.
use {candour_mail as _, clap as _, mimalloc as _, rpassword as _, tracing_subscriber as _};
