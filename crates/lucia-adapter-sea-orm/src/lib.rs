//! lucia-adapter-sea-orm
