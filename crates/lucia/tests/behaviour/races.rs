//! No session outlives the credential it was made with (issue 7, point 3).
//!
//! Two kinds of tests. The `*_at_every_step` ones are deterministic: a [`Probe`] runs the
//! revocation (password change, "sign out everywhere", account deletion) before each of the
//! store calls a `sign_in` makes, one position per run, on the store's own combined operations
//! and on the trait's provided ones (a store without transactions). The `race_*` ones run
//! sign-ins on several tasks of a multi-threaded runtime against the revocation, for several
//! rounds, with a hasher slow enough to make the windows wide.
//!
//! The invariants:
//! - password change: once it has returned and the sign-ins that used the old password are
//!   done, none of their sessions is valid and the user has no session row at all;
//! - sign out everywhere: a session whose row existed before the revocation began (its insert
//!   finished first), and every sign-in that returned before it began, is gone afterwards;
//! - account deletion: racing sign-ins fail with a client error (never `Error::Database`), and
//!   no row of the user remains;
//! - validations of one idle session all succeed and renew it once; racing its invalidation,
//!   none resurrects it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lucia::{Adapter, Error};
use lucia_adapter_test::TestDatabase;

use super::support::{CountingHasher, FastHasher, Probe};
use super::{
    Auth, Ctx, DAY, Fixture, Table, assert_err, is_live, new_session, new_user, new_user_with_password, token, xx,
};

/// Store calls of one uncontended `sign_in` with the store's own `get_session_and_user` (5)
/// or the provided one (6), plus margin: every position before, between and after them.
const STEPS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revocation {
    ChangePassword,
    SignOutEverywhere,
    DeleteUser,
}

impl Revocation {
    async fn run<A: Adapter>(self, auth: &Auth<A>, user_id: &str, address: &str) {
        match self {
            Self::ChangePassword => drop(auth.change_password("email", address, "new").await.unwrap()),
            Self::SignOutEverywhere => auth.invalidate_all_user_sessions(user_id).await.unwrap(),
            Self::DeleteUser => auth.delete_user(user_id).await.unwrap(),
        }
    }
}

/// What one interleaving gave.
struct Step {
    outcome: Result<super::Created, Error>,
    /// `Probe::tick`s around the revocation.
    revoked: (u64, u64),
    /// Whether the revocation ran during the sign-in (not after it returned).
    during: bool,
    /// Whether it ran before the sign-in's first attempt read its session back to confirm it
    /// (or the sign-in never got that far): then that attempt cannot succeed, and the
    /// sign-in either starts over or fails. Otherwise the sign-in returns the session it
    /// made, which the revocation then ends.
    before_confirmation: bool,
}

/// Runs `revocation` before call `step` of a sign-in of a new user with password `old`.
async fn interleave<F: Fixture, const NATIVE: bool>(
    t: &Ctx<F>,
    revocation: Revocation,
    step: usize,
    name: &str,
) -> (Step, String, Probe<F::Adapter, NATIVE>)
where
    Probe<F::Adapter, NATIVE>: Adapter,
{
    let user_id = new_user_with_password(&t.auth, name, "old").await;
    let address = format!("{name}@example.com");
    let probe: Probe<F::Adapter, NATIVE> = Probe::new(t.adapter());
    let auth = t.builder(probe.clone()).build();
    // The revocation runs on the same kind of store (own or provided combined methods),
    // without hooks.
    let revoking = t.builder(Probe::<F::Adapter, NATIVE>::new(t.adapter())).build();
    let revoked = Arc::new(Mutex::new(None));
    let (plain, ticks, record) = (revoking.clone(), probe.clone(), Arc::clone(&revoked));
    let (id, at) = (user_id.clone(), address.clone());
    probe.before_call(step, move || async move {
        let start = ticks.tick();
        revocation.run(&plain, &id, &at).await;
        *record.lock().unwrap() = Some((start, ticks.tick()));
    });
    let outcome = auth.sign_in("email", &address, Some("old"), xx()).await;
    probe.clear_hook();
    let during = revoked.lock().unwrap().is_some();
    // The read that confirms the session: one call on the store's own join; with the provided
    // one, the session read, or for a deleted user the user read after it.
    let log = probe.log();
    let confirmation = log
        .iter()
        .position(|m| *m == "get_session_and_user" || *m == "get_session")
        .map(|read| if revocation == Revocation::DeleteUser && log[read] == "get_session" { read + 1 } else { read });
    let before_confirmation = during && confirmation.is_none_or(|read| step <= read);
    if !during {
        let start = probe.tick();
        revocation.run(&revoking, &user_id, &address).await;
        *revoked.lock().unwrap() = Some((start, probe.tick()));
    }
    let revoked = revoked.lock().unwrap().expect("the revocation ran");
    (Step { outcome, revoked, during, before_confirmation }, user_id, probe)
}

async fn assert_token_dead<F: Fixture>(t: &Ctx<F>, created: &super::Created, context: &str) {
    match t.auth.validate_session(token(created)).await {
        Err(Error::InvalidSessionId) => {}
        other => panic!("{context}: a session made with the old credential survived: {other:?}"),
    }
}

async fn change_password_steps<F: Fixture, const NATIVE: bool>(t: &Ctx<F>)
where
    Probe<F::Adapter, NATIVE>: Adapter,
{
    let (mut refused, mut signed_in) = (0, 0);
    for step in 0..STEPS {
        let name = format!("cp{}{step}", u8::from(NATIVE));
        let (result, user_id, _) = interleave::<F, NATIVE>(t, Revocation::ChangePassword, step, &name).await;
        let context = format!("password change before call {step} (native: {NATIVE})");
        match &result.outcome {
            Ok(created) => {
                signed_in += 1;
                assert!(!result.before_confirmation, "{context}: signed in with a password changed before");
                assert_token_dead(t, created, &context).await;
            }
            Err(Error::InvalidPassword) => {
                refused += 1;
                assert!(result.before_confirmation, "{context}: refused a sign-in that completed first");
            }
            Err(other) => panic!("{context}: {other:?}"),
        }
        assert_eq!(t.sessions_of(&user_id).await, vec![], "{context}: no row is left");
        let address = format!("{name}@example.com");
        assert_err!(t.auth.use_key("email", &address, Some("old")).await, Error::InvalidPassword);
        t.auth.use_key("email", &address, Some("new")).await.unwrap();
    }
    assert!(refused > 0 && signed_in > 0, "both outcomes occur: {refused} refused, {signed_in} signed in");
}

pub async fn change_password_racing_sign_in_at_every_step<F: Fixture>(t: &Ctx<F>) {
    change_password_steps::<F, true>(t).await;
    change_password_steps::<F, false>(t).await;
}

async fn sign_out_steps<F: Fixture, const NATIVE: bool>(t: &Ctx<F>)
where
    Probe<F::Adapter, NATIVE>: Adapter,
{
    let (mut made_after, mut ended) = (false, false);
    for step in 0..STEPS {
        let name = format!("so{}{step}", u8::from(NATIVE));
        let (result, user_id, probe) = interleave::<F, NATIVE>(t, Revocation::SignOutEverywhere, step, &name).await;
        let context = format!("sign-out everywhere before call {step} (native: {NATIVE})");
        // The password is still right: a sign-in whose attempt was revoked starts over.
        let created = result.outcome.unwrap_or_else(|e| panic!("{context}: {e:?}"));
        let (begun, _) = result.revoked;
        let rows = t.sessions_of(&user_id).await;
        let inserts = probe.inserts();
        for row in rows.iter().filter(|row| is_live(row, t.now())) {
            let insert = inserts.iter().find(|i| i.stored_id == row.id).expect("inserted by the sign-in");
            assert!(insert.finished > begun, "{context}: a row that existed before the revocation survived");
        }
        // The session returned is valid exactly when its row was made after the revocation
        // (the revocation ran before its placeholder, or the attempt it revoked started over).
        let stored = super::stored_id(&created);
        let insert = inserts.iter().find(|i| i.stored_id == stored).expect("the session's placeholder");
        assert_eq!(
            insert.started > begun,
            result.before_confirmation,
            "{context}: a revoked attempt starts over, a confirmed one returns its (revoked) session"
        );
        if insert.started > begun {
            t.auth.validate_session(token(&created)).await.unwrap_or_else(|e| panic!("{context}: {e:?}"));
            assert_eq!(rows.len(), 1, "{context}: the revoked attempt left no row");
        } else {
            assert_token_dead(t, &created, &context).await;
            assert_eq!(rows, vec![], "{context}");
        }
        made_after |= insert.started > begun && result.during;
        ended |= insert.started < begun;
    }
    assert!(made_after && ended, "both outcomes occur");
}

pub async fn sign_out_everywhere_racing_sign_in_at_every_step<F: Fixture>(t: &Ctx<F>) {
    sign_out_steps::<F, true>(t).await;
    sign_out_steps::<F, false>(t).await;
}

async fn delete_user_steps<F: Fixture, const NATIVE: bool>(t: &Ctx<F>)
where
    Probe<F::Adapter, NATIVE>: Adapter,
{
    let (mut refused, mut signed_in) = (0, 0);
    for step in 0..STEPS {
        let name = format!("du{}{step}", u8::from(NATIVE));
        let (result, user_id, _) = interleave::<F, NATIVE>(t, Revocation::DeleteUser, step, &name).await;
        let context = format!("account deletion before call {step} (native: {NATIVE})");
        match &result.outcome {
            Ok(created) => {
                signed_in += 1;
                assert!(!result.before_confirmation, "{context}: signed in to an account deleted before");
                assert_token_dead(t, created, &context).await;
            }
            Err(Error::InvalidKeyId | Error::InvalidPassword | Error::InvalidSessionId) => {
                refused += 1;
                assert!(result.before_confirmation, "{context}: refused a sign-in that completed first");
            }
            Err(other) => panic!("{context}: expected a client error, got {other:?}"),
        }
        assert_no_rows_of(t, &user_id, &context).await;
    }
    assert!(refused > 0 && signed_in > 0, "both outcomes occur: {refused} refused, {signed_in} signed in");
}

async fn assert_no_rows_of<F: Fixture>(t: &Ctx<F>, user_id: &str, context: &str) {
    assert!(t.db().users().await.iter().all(|u| u.id != user_id), "{context}: the user is gone");
    assert!(t.db().keys().await.iter().all(|k| k.user_id != user_id), "{context}: its keys are gone");
    assert_eq!(t.sessions_of(user_id).await, vec![], "{context}: no orphan session");
}

pub async fn delete_user_racing_sign_in_at_every_step<F: Fixture>(t: &Ctx<F>) {
    delete_user_steps::<F, true>(t).await;
    delete_user_steps::<F, false>(t).await;
}

/// Each attempt is revoked before its session is made live: the sign-in gives up after three.
pub async fn sign_in_gives_up_after_three_revocations<F: Fixture>(t: &Ctx<F>) {
    let user_id = new_user_with_password(&t.auth, "unlucky", "pw").await;
    let probe = t.probe();
    let auth = t.builder(probe.clone()).build();
    let revocations = Arc::new(AtomicUsize::new(0));
    let (plain, id, count) = (t.auth.clone(), user_id.clone(), Arc::clone(&revocations));
    probe.set_hook(move |method, _| {
        let (plain, id, count) = (plain.clone(), id.clone(), Arc::clone(&count));
        async move {
            if method == "update_session" {
                count.fetch_add(1, Ordering::SeqCst);
                plain.invalidate_all_user_sessions(&id).await.unwrap();
            }
        }
    });
    assert_err!(auth.sign_in("email", "unlucky@example.com", Some("pw"), xx()).await, Error::InvalidSessionId);
    probe.clear_hook();
    assert_eq!(revocations.load(Ordering::SeqCst), 3);
    assert_eq!(t.sessions_of(&user_id).await, vec![]);
    auth.sign_in("email", "unlucky@example.com", Some("pw"), xx()).await.unwrap();
}

/// A sign-in's placeholder is dead from the start, but a sweep running meanwhile keeps it
/// (the 60 s grace), so the sign-in completes.
pub async fn sign_in_placeholder_survives_a_sweep<F: Fixture>(t: &Ctx<F>) {
    let user_id = new_user_with_password(&t.auth, "swept", "pw").await;
    let probe = t.probe();
    let auth = t.builder(probe.clone()).build();
    let (plain, id) = (t.auth.clone(), user_id.clone());
    let swept = Arc::new(Mutex::new(None));
    let record = Arc::clone(&swept);
    probe.before_method("update_session", move || async move {
        plain.delete_dead_user_sessions(&id).await.unwrap();
        *record.lock().unwrap() = Some(plain.delete_dead_sessions().await.unwrap());
    });
    let created = auth.sign_in("email", "swept@example.com", Some("pw"), xx()).await.unwrap();
    assert_eq!(*swept.lock().unwrap(), Some(0), "the sweep ran and deleted nothing");
    t.auth.validate_session(token(&created)).await.unwrap();
    assert_eq!(probe.inserts().len(), 1, "no retry was needed");
}

// ---- multi-threaded races -------------------------------------------------------------------

const ROUNDS: usize = 5;
const SIGNERS: usize = 3;

/// How long each verification takes in the races: long enough for a revocation to land inside
/// a sign-in, short enough for many sign-ins per round.
fn racing_hasher() -> FastHasher {
    FastHasher::slow(Duration::from_millis(2))
}

/// Where a sign-in's success is placed in time.
type Ticks = Arc<dyn Fn() -> u64 + Send + Sync>;

fn no_ticks() -> Ticks {
    Arc::new(|| 0)
}

/// One round of a race: tasks work until `stop`, counting their `successes`.
#[derive(Default, Clone)]
struct Race {
    stop: Arc<AtomicBool>,
    successes: Arc<AtomicUsize>,
}

impl Race {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }

    fn succeeded(&self) {
        self.successes.fetch_add(1, Ordering::SeqCst);
    }

    /// Returns once the racing tasks have succeeded at least once, plus `round` milliseconds
    /// (so the revocation lands at a different point of a sign-in each round).
    async fn under_way(&self, round: usize) {
        wait_for(|| self.successes.load(Ordering::SeqCst) > 0).await;
        tokio::time::sleep(Duration::from_millis(round as u64)).await;
    }

    /// Lets the tasks go on a little after the revocation, then stops them.
    async fn finish(&self) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Sign-ins of `address` with `password` on [`SIGNERS`] tasks until the race stops; each
/// success with the tick it returned at. `check` judges every error.
fn spawn_signers<A: Adapter + 'static>(
    auth: &Auth<A>,
    tick: Ticks,
    address: &str,
    password: &'static str,
    race: &Race,
    check: fn(&Error) -> bool,
) -> Vec<tokio::task::JoinHandle<Vec<(super::Created, u64)>>> {
    (0..SIGNERS)
        .map(|_| {
            let (auth, tick, address, race) = (auth.clone(), Arc::clone(&tick), address.to_owned(), race.clone());
            tokio::spawn(async move {
                let mut made = Vec::new();
                while race.running() {
                    match auth.sign_in("email", &address, Some(password), xx()).await {
                        Ok(created) => {
                            made.push((created, tick()));
                            race.succeeded();
                        }
                        Err(error) => assert!(check(&error), "unexpected sign-in error: {error:?}"),
                    }
                    tokio::task::yield_now().await;
                }
                made
            })
        })
        .collect()
}

async fn join_all<T>(tasks: Vec<tokio::task::JoinHandle<Vec<T>>>) -> Vec<T> {
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    all
}

pub async fn race_sign_ins_against_change_password<F: Fixture>(t: &Ctx<F>) {
    // Bursts of sign-ins of one account, right password or old: the per-key throttle would
    // refuse most of them, and this race is about revocations, not throttling.
    let auth = t.builder(t.adapter()).password_hasher(racing_hasher()).without_sign_in_throttle().build();
    let mut before_change = 0;
    for round in 0..ROUNDS {
        let name = format!("race{round}");
        let user_id = new_user_with_password(&auth, &name, "old").await;
        let address = format!("{name}@example.com");
        let race = Race::default();
        // Only the old password is used: after the change, no sign-in can succeed.
        let tasks = spawn_signers(&auth, no_ticks(), &address, "old", &race, |e| matches!(e, Error::InvalidPassword));
        race.under_way(round).await;
        let live_before = auth.get_all_user_sessions(&user_id).await.unwrap().len();
        before_change += live_before;
        auth.change_password("email", &address, "new").await.unwrap();
        // Sign-ins go on a little after the change: they must all fail.
        race.finish().await;
        let made = join_all(tasks).await;
        let context = format!("round {round}: {} sign-ins succeeded, {live_before} live at the change", made.len());
        for (created, _) in &made {
            assert_token_dead(t, created, &context).await;
        }
        assert_eq!(t.sessions_of(&user_id).await, vec![], "{context}: no session row at all");
        assert_eq!(auth.get_all_user_sessions(&user_id).await.unwrap(), vec![]);
        auth.sign_in("email", &address, Some("new"), xx()).await.unwrap();
    }
    assert!(before_change > 0, "no sign-in succeeded before a change: the race did not run");
}

pub async fn race_sign_ins_against_sign_out_everywhere<F: Fixture>(t: &Ctx<F>) {
    let probe = t.probe();
    // Bursts of sign-ins of one account, right password or old: the per-key throttle would
    // refuse most of them, and this race is about revocations, not throttling.
    let auth = t.builder(probe.clone()).password_hasher(racing_hasher()).without_sign_in_throttle().build();
    let (mut ended, mut survived) = (0, 0);
    for round in 0..ROUNDS {
        let name = format!("out{round}");
        let user_id = new_user_with_password(&auth, &name, "pw").await;
        let address = format!("{name}@example.com");
        let race = Race::default();
        // The password stays valid: a revoked attempt starts over and succeeds.
        let ticks = probe.clone();
        let tasks = spawn_signers(&auth, Arc::new(move || ticks.tick()), &address, "pw", &race, |_| false);
        race.under_way(round).await;
        let begun = probe.tick();
        auth.invalidate_all_user_sessions(&user_id).await.unwrap();
        race.finish().await;
        let made = join_all(tasks).await;
        let context = format!("round {round}");
        for (created, returned) in &made {
            if *returned < begun {
                ended += 1;
                assert_token_dead(t, created, &format!("{context}: signed in before the revocation")).await;
            }
        }
        let inserts = probe.inserts();
        for row in t.sessions_of(&user_id).await.iter().filter(|row| is_live(row, t.now())) {
            survived += 1;
            let insert = inserts.iter().find(|i| i.stored_id == row.id).expect("every row is a sign-in's");
            assert!(insert.finished > begun, "{context}: a session whose row existed before the revocation survived");
        }
    }
    assert!(ended > 0, "no sign-in returned before a revocation: the race did not run");
    assert!(survived > 0, "no sign-in succeeded after a revocation");
}

pub async fn race_sign_ins_against_delete_user<F: Fixture>(t: &Ctx<F>) {
    // Bursts of sign-ins of one account, right password or old: the per-key throttle would
    // refuse most of them, and this race is about revocations, not throttling.
    let auth = t.builder(t.adapter()).password_hasher(racing_hasher()).without_sign_in_throttle().build();
    let mut succeeded = 0;
    for round in 0..ROUNDS {
        let name = format!("gone{round}");
        let user_id = new_user_with_password(&auth, &name, "pw").await;
        let address = format!("{name}@example.com");
        let race = Race::default();
        let client_error =
            |e: &Error| matches!(e, Error::InvalidKeyId | Error::InvalidPassword | Error::InvalidSessionId);
        let tasks = spawn_signers(&auth, no_ticks(), &address, "pw", &race, client_error);
        race.under_way(round).await;
        auth.delete_user(&user_id).await.unwrap_or_else(|e| panic!("round {round}: delete_user failed: {e:?}"));
        race.finish().await;
        let made = join_all(tasks).await;
        succeeded += made.len();
        let context = format!("round {round}");
        for (created, _) in &made {
            assert_token_dead(t, created, &context).await;
        }
        assert_no_rows_of(t, &user_id, &context).await;
    }
    let users: Vec<String> = t.db().users().await.into_iter().map(|u| u.id).collect();
    assert!(t.db().sessions().await.iter().all(|s| users.contains(&s.user_id)), "no orphan session");
    assert!(succeeded > 0, "no sign-in succeeded before a deletion: the race did not run");
}

/// Keys and sessions created for a user while it is deleted: each either lands before the
/// deletion (and goes with it) or is `InvalidUserId`; the deletion itself succeeds.
pub async fn race_new_sessions_and_keys_against_delete_user<F: Fixture>(t: &Ctx<F>) {
    for round in 0..ROUNDS {
        let user_id = super::new_user(&t.auth, &format!("doomed{round}")).await;
        let race = Race::default();
        let tasks: Vec<_> = (0..SIGNERS)
            .map(|task| {
                let (auth, user_id, race) = (t.auth.clone(), user_id.clone(), race.clone());
                tokio::spawn(async move {
                    let mut made = 0;
                    while race.running() {
                        let outcome = if task == 0 {
                            let key = lucia::NewKey::passwordless("github", format!("{round}-{made}"));
                            auth.create_key(&user_id, key).await.map(drop)
                        } else {
                            auth.create_session(lucia::CreateSession::new(user_id.clone(), xx())).await.map(drop)
                        };
                        match outcome {
                            Ok(()) => {
                                made += 1;
                                race.succeeded();
                            }
                            Err(Error::InvalidUserId) => {}
                            Err(error) => panic!("round {round}: expected InvalidUserId, got {error:?}"),
                        }
                        tokio::task::yield_now().await;
                    }
                    made
                })
            })
            .collect();
        race.under_way(round).await;
        t.auth.delete_user(&user_id).await.unwrap_or_else(|e| panic!("round {round}: delete_user failed: {e:?}"));
        race.finish().await;
        let mut made = 0;
        for task in tasks {
            made += task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        }
        assert!(made > 0, "round {round}: nothing was created before the deletion");
        assert_no_rows_of(t, &user_id, &format!("round {round}")).await;
    }
}

/// The change and its revocation are one operation: if ending the sessions fails, the
/// password does not change.
pub async fn change_password_and_its_revocation_are_atomic<F: Fixture>(t: &Ctx<F>) {
    // The store's own operation, failing inside the database (SQL: a trigger; the transaction
    // rolls back). The memory store is atomic by construction: one lock for both.
    let user_id = new_user_with_password(&t.auth, "atomic", "old").await;
    let sessions = [new_session(&t.auth, &user_id).await, new_session(&t.auth, &user_id).await];
    if t.fixture.fail_deletes(Table::Session).await {
        assert_err!(t.auth.change_password("email", "atomic@example.com", "new").await, Error::Database(_));
        t.fixture.allow_deletes(Table::Session).await;
        t.auth.use_key("email", "atomic@example.com", Some("old")).await.unwrap();
        assert_err!(t.auth.use_key("email", "atomic@example.com", Some("new")).await, Error::InvalidPassword);
        for created in &sessions {
            t.auth.validate_session(token(created)).await.unwrap();
        }
    }
    t.auth.change_password("email", "atomic@example.com", "new").await.unwrap();
    for created in &sessions {
        assert_token_dead(t, created, "after the change").await;
    }

    // A store without transactions (the trait's provided method): the sessions are ended
    // before the password changes, so whatever fails, the old password never outlives...
    let probe: Probe<F::Adapter, false> = Probe::new(t.adapter());
    let auth = t.builder(probe.clone()).build();
    let user_id = new_user_with_password(&t.auth, "plain", "old").await;
    let kept = new_session(&t.auth, &user_id).await;
    probe.fail("delete_sessions_by_user_id");
    assert_err!(auth.change_password("email", "plain@example.com", "new").await, Error::Database(_));
    t.auth.use_key("email", "plain@example.com", Some("old")).await.unwrap();
    t.auth.validate_session(token(&kept)).await.unwrap();
    // ... and a failed key update leaves the user signed out with the old password.
    probe.heal();
    probe.fail("update_key");
    assert_err!(auth.change_password("email", "plain@example.com", "new").await, Error::Database(_));
    t.auth.use_key("email", "plain@example.com", Some("old")).await.unwrap();
    assert_token_dead(t, &kept, "a failed password change").await;
    probe.heal();
    auth.change_password("email", "plain@example.com", "new").await.unwrap();
    t.auth.use_key("email", "plain@example.com", Some("new")).await.unwrap();
}

/// At most `hashing_threads` hashes run at once, however many sign-ins are cancelled while
/// their hash runs (the permit belongs to the hashing job, not to the request's future).
pub async fn hashing_is_bounded_when_sign_ins_are_cancelled<F: Fixture>(t: &Ctx<F>) {
    let hasher = CountingHasher::new(Duration::from_millis(100));
    // Twenty sign-ins of one account at once: without the throttle, which would refuse all but
    // five of them before hashing (see `throttle::throttle_holds_against_concurrent_guesses`).
    let auth =
        t.builder(t.adapter()).password_hasher(hasher.clone()).hashing_threads(2).without_sign_in_throttle().build();
    new_user_with_password(&auth, "bounded", "pw").await;
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let auth = auth.clone();
            tokio::spawn(async move {
                let address = if i % 4 == 3 { "unknown@example.com" } else { "bounded@example.com" };
                if i % 2 == 0 {
                    auth.sign_in("email", address, Some("pw"), xx()).await.map(drop)
                } else {
                    auth.use_key("email", address, Some("pw")).await.map(drop)
                }
            })
        })
        .collect();
    // Cancel them all (as a timeout layer or a closed connection would) while two hash.
    wait_for(|| hasher.running() == 2).await;
    for request in &requests {
        request.abort();
    }
    for request in requests {
        assert!(request.await.unwrap_err().is_cancelled(), "cancelled before its hash finished");
    }
    assert_eq!(hasher.running(), 2, "the cancelled hashes are still running");
    // New requests while the cancelled hashes finish: they wait for the permits.
    let mut finished = Vec::new();
    for i in 0..6 {
        let auth = auth.clone();
        finished.push(tokio::spawn(async move {
            if i % 2 == 0 {
                auth.sign_in("email", "bounded@example.com", Some("pw"), xx()).await.map(drop)
            } else {
                auth.use_key("email", "bounded@example.com", Some("pw")).await.map(drop)
            }
        }));
    }
    for task in finished {
        task.await.unwrap().unwrap();
    }
    assert_eq!(hasher.most_at_once(), 2, "at most two hashes at once, and the bound was reached");
    assert_eq!(hasher.calls(), 1 + 2 + 6, "sign-up, two cancelled, six finished: the cancelled waiters hashed nothing");
}

/// Polls `condition` every millisecond, for at most ten seconds.
async fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the condition never held");
}

/// Validations of one token started together on the runtime's threads, with `also` started
/// at the same moment: the validations' results.
async fn validate_together<F: Fixture>(
    t: &Ctx<F>,
    token: &str,
    validations: usize,
    also: impl Future<Output = ()> + Send + 'static,
) -> Vec<Result<lucia::SessionState, Error>> {
    let start = Arc::new(tokio::sync::Barrier::new(validations + 2));
    let tasks: Vec<_> = (0..validations)
        .map(|_| {
            let (auth, token, start) = (t.auth.clone(), token.to_owned(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                auth.validate_session(&token).await.map(|session| session.state)
            })
        })
        .collect();
    let also = {
        let start = Arc::clone(&start);
        tokio::spawn(async move {
            start.wait().await;
            also.await;
        })
    };
    start.wait().await;
    also.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    results
}

/// Eight validations at once of one idle session: each succeeds as active (none sees a
/// half-renewed row), and the row ends renewed from the validation time, its attributes kept.
pub async fn race_validations_renewing_one_session<F: Fixture>(t: &Ctx<F>) {
    for round in 0..ROUNDS {
        let user_id = new_user(&t.auth, &format!("renew{round}")).await;
        let created = new_session(&t.auth, &user_id).await;
        let later = t.now() + 3 * DAY;
        t.set_now(later);
        for result in validate_together(t, token(&created), 8, async {}).await {
            let state = result.unwrap_or_else(|e| panic!("round {round}: a validation failed: {e:?}"));
            assert_eq!(state, lucia::SessionState::Active, "round {round}");
        }
        let rows = t.sessions_of(&user_id).await;
        assert_eq!(rows.len(), 1, "round {round}: {rows:?}");
        assert_eq!((rows[0].active_expires, rows[0].idle_expires), (later + DAY, later + 15 * DAY), "round {round}");
        assert_eq!(rows[0].attributes["country"], "XX", "round {round}");
    }
}

/// Validations of an idle session (each renews it) while it is invalidated: each either
/// succeeds or finds no session, and afterwards the session is gone for good: no renewal
/// wrote its row back.
pub async fn race_validations_against_invalidate_session<F: Fixture>(t: &Ctx<F>) {
    for round in 0..ROUNDS {
        let user_id = new_user(&t.auth, &format!("ended{round}")).await;
        let created = new_session(&t.auth, &user_id).await;
        t.set_now(t.now() + 3 * DAY);
        let (auth, ending) = (t.auth.clone(), token(&created).to_owned());
        let invalidate = async move { auth.invalidate_session(&ending).await.unwrap() };
        for result in validate_together(t, token(&created), 8, invalidate).await {
            if let Err(error) = result {
                assert!(
                    matches!(error, Error::InvalidSessionId),
                    "round {round}: unexpected validation error: {error:?}"
                );
            }
        }
        assert_err!(t.auth.validate_session(token(&created)).await, Error::InvalidSessionId);
        assert_eq!(t.sessions_of(&user_id).await, vec![], "round {round}: the session came back");
    }
}
