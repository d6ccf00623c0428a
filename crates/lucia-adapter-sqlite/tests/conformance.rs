//! The conformance suite, one named test per case: `rusqlite::<case>` on the full adapter
//! over the suite's three tables (`Capabilities::sql()`: `username` and `email` unique, a
//! schema, foreign keys), and `rusqlite_sessions::<case>` on the sessions-only adapter over a
//! session table without foreign key (a schema, nothing else).

mod common;

mod rusqlite {
    lucia_adapter_test::adapter_tests!(crate::common::fixture());
}

mod rusqlite_sessions {
    lucia_adapter_test::session_adapter_tests!(crate::common::session_fixture());
}
