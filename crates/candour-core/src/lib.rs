//! Candour's domain: the rules that keep an organisation's privacy policy true.
//!
//! Architecture invariant: this crate does no I/O and never reads the clock. Time arrives as
//! a parameter (see [`clock::Clock`]), configuration arrives as text, and storage is reached
//! only through the narrow traits in [`store`], implemented by the store crates.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod account;
pub mod audit;
pub mod bundle;
pub mod campaign;
pub mod clock;
pub mod config;
pub mod consent;
pub mod cookies;
pub mod datamap;
pub mod disclosures;
pub mod export;
pub mod fields;
pub mod forms;
pub mod health;
pub mod import;
pub mod media;
pub mod password;
pub mod people;
pub mod policy;
pub mod poll;
pub mod purposes;
pub mod requests;
pub mod retention;
pub mod secret;
pub mod session;
pub mod share;
pub mod signer;
pub mod stats;
pub mod store;
pub mod totp;
pub mod uk_time;

pub use clock::Clock;
pub use config::Config;
