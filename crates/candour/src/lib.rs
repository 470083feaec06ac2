//! The pieces of the `candour` command that tests use too: opening the database, serving,
//! and the demonstration site.

pub mod demo;
pub mod server;
