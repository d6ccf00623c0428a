//! The conformance suite on each backend, one named test per case:
//! `sqlite::get_user_returns_target_user`, `postgres::...`, `mysql::...` (the token cases
//! too, on the adapter with a token table: `common::token_fixture`; the passkey cases on the
//! adapter with token and passkey tables: `common::passkey_fixture`; the second-factor cases on
//! the adapter with second-factor tables: `common::second_factor_fixture`), the passkey and
//! second-factor cases again on the adapter with every table, whose second-factor foreign keys
//! do not cascade (`sqlite_full::`, …: `common::full_fixture`), and the
//! session-adapter cases under `*_sessions::`. The full stores declare
//! `Capabilities::sql()` (`username` and `email` unique, a schema, foreign keys). The
//! session-adapter cases run on `SeaOrmAdapter<SessionsOnly>` over a table made by
//! `LuciaMigration::sessions_only()`: a schema and no foreign key (see `common::session_fixture`).

mod common;

use common::{Backend, fixture, full_fixture, passkey_fixture, second_factor_fixture, session_fixture, token_fixture};

mod sqlite {
    use super::*;
    lucia_adapter_test::adapter_tests!(fixture(Backend::Sqlite));
    lucia_adapter_test::token_adapter_tests!(token_fixture(Backend::Sqlite));
    lucia_adapter_test::passkey_adapter_tests!(passkey_fixture(Backend::Sqlite));
    lucia_adapter_test::second_factor_adapter_tests!(second_factor_fixture(Backend::Sqlite));
}

mod postgres {
    use super::*;
    lucia_adapter_test::adapter_tests!(fixture(Backend::Postgres));
    lucia_adapter_test::token_adapter_tests!(token_fixture(Backend::Postgres));
    lucia_adapter_test::passkey_adapter_tests!(passkey_fixture(Backend::Postgres));
    lucia_adapter_test::second_factor_adapter_tests!(second_factor_fixture(Backend::Postgres));
}

mod mysql {
    use super::*;
    lucia_adapter_test::adapter_tests!(fixture(Backend::MySql));
    lucia_adapter_test::token_adapter_tests!(token_fixture(Backend::MySql));
    lucia_adapter_test::passkey_adapter_tests!(passkey_fixture(Backend::MySql));
    lucia_adapter_test::second_factor_adapter_tests!(second_factor_fixture(Backend::MySql));
}

mod sqlite_full {
    use super::*;
    lucia_adapter_test::passkey_adapter_tests!(full_fixture(Backend::Sqlite));
    lucia_adapter_test::second_factor_adapter_tests!(full_fixture(Backend::Sqlite));
}

mod postgres_full {
    use super::*;
    lucia_adapter_test::passkey_adapter_tests!(full_fixture(Backend::Postgres));
    lucia_adapter_test::second_factor_adapter_tests!(full_fixture(Backend::Postgres));
}

mod mysql_full {
    use super::*;
    lucia_adapter_test::passkey_adapter_tests!(full_fixture(Backend::MySql));
    lucia_adapter_test::second_factor_adapter_tests!(full_fixture(Backend::MySql));
}

mod sqlite_sessions {
    use super::*;
    lucia_adapter_test::session_adapter_tests!(session_fixture(Backend::Sqlite));
}

mod postgres_sessions {
    use super::*;
    lucia_adapter_test::session_adapter_tests!(session_fixture(Backend::Postgres));
}

mod mysql_sessions {
    use super::*;
    lucia_adapter_test::session_adapter_tests!(session_fixture(Backend::MySql));
}
