//! What the tests of the `candour` command share: the binary with a clean environment, and
//! a free port.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::Command;

/// The binary, with only the CANDOUR_* variables a test sets (none from the developer's
/// shell).
pub fn candour() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_candour"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CANDOUR_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
