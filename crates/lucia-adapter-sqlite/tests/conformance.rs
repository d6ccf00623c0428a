//! The conformance suite, one named test per case: `rusqlite::<case>` on the full adapter
//! over the suite's three tables (`Capabilities::sql()`: `username` and `email` unique, a
//! schema, foreign keys), for the token cases on the adapter opened with tokens, with a token
//! table as well, and so on for the second-factor and passkey cases; `rusqlite_sessions::<case>`
//! on the sessions-only adapter over a session table without foreign key (a schema, nothing
//! else). `rusqlite_with_tokens::<case>` runs the adapter cases again on the adapter with
//! tokens, whose user deletes also delete tokens; `rusqlite_with_second_factor::<case>` runs
//! them and the token cases on the adapter with second factors too, and
//! `rusqlite_with_passkeys::<case>` those and the second-factor cases on the adapter with
//! passkeys.

mod common;

mod rusqlite {
    lucia_adapter_test::adapter_tests!(crate::common::fixture());
    lucia_adapter_test::token_adapter_tests!(crate::common::token_fixture());
    lucia_adapter_test::second_factor_adapter_tests!(crate::common::second_factor_fixture());
    lucia_adapter_test::passkey_adapter_tests!(crate::common::passkey_fixture());
}

mod rusqlite_with_passkeys {
    lucia_adapter_test::adapter_tests!(crate::common::passkey_fixture());
    lucia_adapter_test::token_adapter_tests!(crate::common::passkey_fixture());
    lucia_adapter_test::second_factor_adapter_tests!(crate::common::passkey_fixture());
}

mod rusqlite_with_second_factor {
    lucia_adapter_test::adapter_tests!(crate::common::second_factor_fixture());
    lucia_adapter_test::token_adapter_tests!(crate::common::second_factor_fixture());
}

mod rusqlite_with_tokens {
    lucia_adapter_test::adapter_tests!(crate::common::token_fixture());
}

mod rusqlite_sessions {
    lucia_adapter_test::session_adapter_tests!(crate::common::session_fixture());
}
