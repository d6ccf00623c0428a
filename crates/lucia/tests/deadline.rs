//! The store deadline (`LuciaBuilder::store_timeout`): a store that never answers makes a call
//! `Error::Unavailable` after the deadline, not a hang; sweeps have none. On tokio's paused
//! clock, so the waits are exact and take no real time.
#![cfg(feature = "memory")]

use std::future::{Future, pending};
use std::time::Duration;

use lucia::memory::MemoryAdapter;
use lucia::{
    AdapterError, CreateSession, CreateUser, DatabaseSession, Error, Lucia, NoAttributes, SessionAdapter,
    SessionUpdate, SplitAdapter,
};
use tokio::time::Instant;

/// A session store that never answers (a stalled connection).
struct Stalled;

fn never<T>() -> impl Future<Output = Result<T, AdapterError>> + Send {
    pending()
}

impl SessionAdapter for Stalled {
    fn get_session(&self, _: &str) -> impl Future<Output = Result<Option<DatabaseSession>, AdapterError>> + Send {
        never()
    }
    fn get_sessions_by_user_id(
        &self,
        _: &str,
    ) -> impl Future<Output = Result<Vec<DatabaseSession>, AdapterError>> + Send {
        never()
    }
    fn set_session(&self, _: DatabaseSession) -> impl Future<Output = Result<(), AdapterError>> + Send {
        never()
    }
    fn update_session(&self, _: &str, _: SessionUpdate) -> impl Future<Output = Result<(), AdapterError>> + Send {
        never()
    }
    fn delete_session(&self, _: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        never()
    }
    fn delete_sessions_by_user_id(&self, _: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        never()
    }
    fn delete_dead_sessions_by_user_id(
        &self,
        _: &str,
        _: i64,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        never()
    }
    fn delete_dead_sessions(&self, _: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        never()
    }
}

type Auth = Lucia<SplitAdapter<MemoryAdapter, Stalled>, NoAttributes, NoAttributes>;

fn auth(timeout: Duration) -> Auth {
    Lucia::builder(SplitAdapter::new(MemoryAdapter::new(), Stalled)).store_timeout(timeout).build()
}

/// `call`, failing the test if it is still waiting after a minute. On the paused clock a
/// deadline whose timer was never registered would otherwise hang the test: with no timer
/// pending, the clock has nothing to advance to.
async fn within_a_minute<T>(call: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::time::timeout(Duration::from_secs(60), call).await.expect("no deadline cut the call off within a minute")
}

#[tokio::test(start_paused = true)]
async fn a_stalled_store_is_unavailable_after_the_deadline() {
    let auth = auth(Duration::from_secs(2));
    let started = Instant::now();
    let result = within_a_minute(auth.validate_session("a".repeat(40).as_str())).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(2));

    // A write is cut off the same way; the users' store (which answers) is not affected.
    let user = auth.create_user(CreateUser::new(NoAttributes {})).await.unwrap();
    let started = Instant::now();
    let result = within_a_minute(auth.create_session(CreateSession::new(user.user_id.clone(), NoAttributes {}))).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{:?}", result.err());
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let message = match result {
        Err(error) => error.to_string(),
        Ok(_) => unreachable!(),
    };
    assert!(message.contains("did not answer within 2s"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn the_default_deadline_is_five_seconds() {
    let auth: Auth = Lucia::builder(SplitAdapter::new(MemoryAdapter::new(), Stalled)).build();
    assert_eq!(auth.config().store_timeout(), Duration::from_secs(5));
    let started = Instant::now();
    let result = within_a_minute(auth.invalidate_all_user_sessions("some-user")).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[test]
fn the_deadline_is_at_most_ten_seconds_and_never_zero() {
    assert_eq!(auth(Duration::from_secs(60)).config().store_timeout(), Duration::from_secs(10));
    assert_eq!(auth(Duration::ZERO).config().store_timeout(), Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn sweeps_have_no_deadline() {
    let auth = auth(Duration::from_secs(1));
    let sweep = tokio::time::timeout(Duration::from_secs(60), auth.delete_dead_sessions()).await;
    assert!(sweep.is_err(), "the sweep ended: {sweep:?}");
}

impl lucia::ThrottleStore for Stalled {
    fn attempt(
        &self,
        _: &str,
        _: &lucia::Backoff,
        _: std::time::SystemTime,
    ) -> impl Future<Output = Result<lucia::Attempt, AdapterError>> + Send {
        never()
    }
    fn succeeded(&self, _: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        never()
    }
}

#[tokio::test(start_paused = true)]
async fn a_stalled_throttle_store_is_unavailable_after_the_deadline() {
    let auth: Lucia<MemoryAdapter> =
        Lucia::builder(MemoryAdapter::new()).sign_in_throttle(Stalled).store_timeout(Duration::from_secs(3)).build();
    let started = Instant::now();
    let result = within_a_minute(auth.use_key("username", "ada", Some("a password"))).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_stalled_token_throttle_is_unavailable_after_the_deadline() {
    // The store that spaces out reset links and verification codes is the sign-in throttle's.
    let auth: Lucia<MemoryAdapter> =
        Lucia::builder(MemoryAdapter::new()).sign_in_throttle(Stalled).store_timeout(Duration::from_secs(3)).build();
    let started = Instant::now();
    let result = within_a_minute(auth.request_password_reset("ada@example.com")).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{:?}", result.err());
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

/// A stalled `validate_session` started `after` the first of two, both on one shared timer if
/// they start within a tenth of the deadline: how long each took.
async fn two_stalled_calls(after: Duration) -> (Duration, Duration) {
    let auth = auth(Duration::from_secs(2));
    let token = "a".repeat(40);
    let first = async {
        let started = Instant::now();
        let result = within_a_minute(auth.validate_session(&token)).await;
        assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
        started.elapsed()
    };
    let second = async {
        tokio::time::sleep(after).await;
        let started = Instant::now();
        let result = within_a_minute(auth.validate_session(&token)).await;
        assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
        started.elapsed()
    };
    tokio::join!(first, second)
}

#[tokio::test(start_paused = true)]
async fn calls_that_start_within_a_tenth_of_the_deadline_share_its_end() {
    // Never past the deadline, never sooner than nine tenths of it.
    let (first, second) = two_stalled_calls(Duration::from_millis(150)).await;
    assert_eq!((first, second), (Duration::from_secs(2), Duration::from_millis(1850)));
}

#[tokio::test(start_paused = true)]
async fn a_call_that_starts_later_gets_the_whole_deadline() {
    let (first, second) = two_stalled_calls(Duration::from_millis(200)).await;
    assert_eq!((first, second), (Duration::from_secs(2), Duration::from_secs(2)));
}

#[test]
fn a_call_on_another_runtime_gets_an_end_of_its_own() {
    let auth = auth(Duration::from_secs(2));
    let token = "a".repeat(40);
    let paused_runtime =
        || tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    // The first runtime's paused clock runs an hour ahead when it sets a shared end.
    paused_runtime().block_on(async {
        tokio::time::advance(Duration::from_secs(3600)).await;
        let cut_short = tokio::time::timeout(Duration::from_millis(10), auth.validate_session(&token)).await;
        assert!(cut_short.is_err(), "{cut_short:?}");
    });
    paused_runtime().block_on(async {
        let started = Instant::now();
        let result = within_a_minute(auth.validate_session(&token)).await;
        assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    });
}

/// Calls on the worker threads of a runtime, each in a task of its own, on the real clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_tasks_across_threads_each_end_within_the_deadline() {
    let deadline = Duration::from_millis(300);
    let auth = auth(deadline);
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let auth = auth.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i * 10)).await;
                let started = Instant::now();
                let result = within_a_minute(auth.validate_session("a".repeat(40).as_str())).await;
                assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
                started.elapsed()
            })
        })
        .collect();
    for call in calls {
        let took = call.await.expect("the call's task");
        // Never sooner than nine tenths; the upper bound leaves a loaded machine room.
        assert!(took >= deadline * 9 / 10 && took < deadline * 10, "{took:?}");
    }
}

#[test]
#[should_panic(expected = "timers are disabled")]
fn a_runtime_without_its_time_driver_is_refused_at_the_first_call() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let auth = auth(Duration::from_secs(2));
    let _ = runtime.block_on(auth.validate_session("a".repeat(40).as_str()));
}

#[tokio::test(start_paused = true)]
async fn a_call_started_by_a_task_out_of_budget_still_ends_at_the_deadline() {
    let auth = auth(Duration::from_secs(2));
    let token = "a".repeat(40);
    // Ready messages spend the task's budget (tokio's cooperative scheduling) within one poll.
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..1000 {
        sender.send(()).unwrap();
    }
    let mut call = std::pin::pin!(auth.validate_session(&token));
    let started = Instant::now();
    std::future::poll_fn(|cx| {
        while receiver.poll_recv(cx).is_ready() {}
        // Out of budget now: the call sets its deadline's shared end here.
        assert!(call.as_mut().poll(cx).is_pending());
        std::task::Poll::Ready(())
    })
    .await;
    let result = within_a_minute(call).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}
