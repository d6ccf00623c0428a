//! lucia-adapter-test
