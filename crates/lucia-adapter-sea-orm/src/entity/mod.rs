//! Ready-made entities for the common case: tables `user`, `key` and `session` with no
//! attribute columns, matching [`LuciaMigration::new`](crate::LuciaMigration::new).
//!
//! Applications with attribute columns copy these three files and add fields; the adapter
//! works with any entities that have the required columns.

pub mod key;
pub mod session;
pub mod user;
