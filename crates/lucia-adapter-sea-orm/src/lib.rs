//! SeaORM adapter for lucia (crate docs to come).
#![deny(missing_docs)]

mod adapter;
mod codec;
pub mod entity;
mod migration;
mod schema;

pub use adapter::{NoSessionTable, SeaOrmAdapter, SessionTableOption, Tables, WithSessions};
pub use migration::LuciaMigration;
pub use schema::SchemaError;
