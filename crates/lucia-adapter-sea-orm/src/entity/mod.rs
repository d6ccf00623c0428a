//! Ready-made entities for the common case: tables `user`, `key` and `session` with no
//! attribute columns, matching [`LuciaMigration::new`](crate::LuciaMigration::new), and
//! `token`, matching [`LuciaTokenMigration::new`](crate::LuciaTokenMigration::new); `passkey`
//! and `passkey_challenge`, matching
//! [`LuciaPasskeyMigration::new`](crate::LuciaPasskeyMigration::new); and `totp` and
//! `recovery_code`, matching
//! [`LuciaSecondFactorMigration::new`](crate::LuciaSecondFactorMigration::new).
//!
//! Applications with attribute columns copy these files and add fields; the adapter works
//! with any entities that have the required columns.

pub mod key;
pub mod passkey;
pub mod passkey_challenge;
pub mod recovery_code;
pub mod session;
pub mod token;
pub mod totp;
pub mod user;
