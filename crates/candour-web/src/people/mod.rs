//! People: the console's records, consents, export, erasure and import (`console`), and the
//! preference centre with its emailed links (`preferences`).

pub(crate) mod console;
pub(crate) mod preferences;
