//! The passkey flows of `lucia-passkey` (registration, passkey-only sign-in, second factor,
//! wrong origin, replay, cloned counter, removal, the longest credential id), end to end with a software authenticator,
//! over this adapter: `passkey_rusqlite::<case>`, on a file whose tables `create_tables` made.
//! The scenarios are lucia-passkey's (`crates/lucia-passkey/tests/common`), shared by path.

mod common;
#[path = "../../lucia-passkey/tests/common/mod.rs"]
mod flows;

use std::future::Future;

use common::TempDb;
use flows::TestClock;
use lucia::Lucia;
use lucia_adapter_sqlite::{SqliteAdapter, WithPasskeys};

/// Runs `scenario` on a fresh file with the crate's own tables (`create_tables`, tokens,
/// second factors, passkeys), then deletes the file even if the scenario panicked.
async fn on<Done>(scenario: impl FnOnce(Lucia<SqliteAdapter<WithPasskeys>>, TestClock) -> Done)
where
    Done: Future<Output = ()> + Send + 'static,
{
    let db = TempDb::new("");
    let adapter = SqliteAdapter::builder()
        .create_tables()
        .tokens()
        .second_factor()
        .passkeys()
        .open(&db.path)
        .expect("open the adapter");
    let clock = TestClock::default();
    let moved = clock.clone();
    let auth = Lucia::builder(adapter).clock(move || moved.now()).build();
    let outcome = tokio::spawn(scenario(auth, clock)).await;
    drop(db);
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Named for CI's suite check (`passkey_rusqlite::...`).
mod passkey_rusqlite {
    use super::{flows, on};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn register_and_sign_in() {
        on(|auth, _| flows::register_and_sign_in(auth)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_origin_is_refused() {
        on(|auth, _| flows::wrong_origin_is_refused(auth)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replayed_challenge_is_refused() {
        on(flows::replayed_challenge_is_refused).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cloned_credential_is_refused() {
        on(|auth, _| flows::cloned_credential_is_refused(auth)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn remove_keeps_the_last_sign_in_method() {
        on(|auth, _| flows::remove_keeps_the_last_sign_in_method(auth)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn long_credential_id_is_refused() {
        on(|auth, _| flows::long_credential_id_is_refused(auth)).await;
    }
}
