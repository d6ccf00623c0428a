//! The adapter conformance suite (`lucia-adapter-test`) on `lucia::memory::MemoryAdapter`:
//! `memory::...` as the core's tests use it (`username` and `email` unique, foreign keys),
//! `memory_without_foreign_keys::...`, `memory_plain::...` (nothing unique) and
//! `memory_sessions::...` (a sessions-only store). Each store declares its capabilities, and
//! the suite checks them both ways.
//!
//! Run with `cargo test -p lucia --test memory_conformance` (the dev-dependency on
//! `lucia-adapter-test` enables the `memory` feature).

use lucia_adapter_test::memory::MemoryFixture;

mod memory {
    use super::*;
    lucia_adapter_test::adapter_tests!(async { Some(MemoryFixture::new()) });
    lucia_adapter_test::token_adapter_tests!(async { Some(MemoryFixture::new()) });
    lucia_adapter_test::passkey_adapter_tests!(async { Some(MemoryFixture::new()) });
    lucia_adapter_test::second_factor_adapter_tests!(async { Some(MemoryFixture::new()) });
}

mod memory_without_foreign_keys {
    use super::*;
    lucia_adapter_test::adapter_tests!(async { Some(MemoryFixture::without_foreign_keys()) });
    lucia_adapter_test::token_adapter_tests!(async { Some(MemoryFixture::without_foreign_keys()) });
    lucia_adapter_test::passkey_adapter_tests!(async { Some(MemoryFixture::without_foreign_keys()) });
    lucia_adapter_test::second_factor_adapter_tests!(async { Some(MemoryFixture::without_foreign_keys()) });
}

mod memory_plain {
    use super::*;
    lucia_adapter_test::adapter_tests!(async { Some(MemoryFixture::plain()) });
    lucia_adapter_test::token_adapter_tests!(async { Some(MemoryFixture::plain()) });
    lucia_adapter_test::passkey_adapter_tests!(async { Some(MemoryFixture::plain()) });
    lucia_adapter_test::second_factor_adapter_tests!(async { Some(MemoryFixture::plain()) });
}

mod memory_sessions {
    use super::*;
    lucia_adapter_test::session_adapter_tests!(async { Some(MemoryFixture::sessions_only()) });
}
