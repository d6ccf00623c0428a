//! The passkey flows with a software authenticator, over `lucia::memory::MemoryAdapter`.

mod common;

/// Named for CI's suite check (`passkey_memory::...`).
mod passkey_memory {
    use super::common::{self, TestClock};
    use lucia::Lucia;
    use lucia::memory::MemoryAdapter;

    fn auth() -> Lucia<MemoryAdapter> {
        Lucia::builder(MemoryAdapter::new()).build()
    }

    #[tokio::test]
    async fn register_and_sign_in() {
        common::register_and_sign_in(auth()).await;
    }

    #[tokio::test]
    async fn wrong_origin_is_refused() {
        common::wrong_origin_is_refused(auth()).await;
    }

    #[tokio::test]
    async fn replayed_challenge_is_refused() {
        let clock = TestClock::default();
        let moved = clock.clone();
        let auth = Lucia::builder(MemoryAdapter::new()).clock(move || moved.now()).build();
        common::replayed_challenge_is_refused(auth, clock).await;
    }

    #[tokio::test]
    async fn cloned_credential_is_refused() {
        common::cloned_credential_is_refused(auth()).await;
    }

    #[tokio::test]
    async fn remove_keeps_the_last_sign_in_method() {
        common::remove_keeps_the_last_sign_in_method(auth()).await;
    }

    #[tokio::test]
    async fn long_credential_id_is_refused() {
        common::long_credential_id_is_refused(auth()).await;
    }
}
