//! The scenarios, written once over any adapter.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use lucia::{
    Adapter, Argon2id, CreateSession, CreateUser, Error, HashingCgroup, HashingPriority, Lucia, LuciaScrypt, NewKey,
    PasswordHasher, SessionExpiresIn,
};
use serde::Serialize;

use crate::backend::Floor;
use crate::measure::{self, Op, Sample, op};
use crate::memory;
use crate::peer::{self, Driven};

const PASSWORD: &str = "correct horse battery staple";

/// The memory one Argon2id hash with the default (OWASP) parameters needs: m = 19456 KiB.
const ARGON2ID_MIB: f64 = 19.0;

/// The hashers the sign-in lines are measured with, by their `hasher` field: the default
/// (Argon2id, OWASP's parameters) and Lucia v2's `s2:` scrypt (the compat mode's writer).
const HASHERS: [&str; 2] = ["argon2id", "s2"];

/// The hasher a `hasher` field names, or `None` for a name not in [`HASHERS`].
fn hasher(name: &str) -> Option<Arc<dyn PasswordHasher>> {
    match name {
        "argon2id" => Some(Arc::new(Argon2id::default())),
        "s2" => Some(Arc::new(LuciaScrypt)),
        _ => None,
    }
}

/// How long and how often to measure.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Each measurement (one round of lucia or of its floor; cut into slices where lucia is
    /// compared with a floor, see [`SLICE`]).
    pub seconds: f64,
    /// Alternating rounds of lucia and its floor; the medians are reported.
    pub rounds: usize,
    /// Discarded run before each scenario.
    pub warm_up_seconds: f64,
    /// Users made up front, and active sessions spread over them.
    pub users: usize,
    pub sessions: usize,
    /// Concurrent sign-ins in the hashing scenarios (the "four sign-ins").
    pub sign_ins: usize,
    /// Sign-ins started at once in `concurrent_sign_ins`.
    pub concurrent_sign_ins: usize,
    /// Only these scenarios (all when `None`).
    pub only: Option<Vec<String>>,
}

impl Settings {
    pub(crate) fn wants(&self, scenario: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.iter().any(|s| s == scenario))
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

/// One line of output.
#[derive(Debug, Default, Serialize)]
pub struct Record {
    pub scenario: &'static str,
    pub backend: String,
    /// How session ids are stored: `hashed` (the default) or `v2_compat` (the token itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<&'static str>,
    pub in_flight: usize,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// What the floor is: the raw driver, or raw password hashing on every core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_ops_per_sec: Option<f64>,
    /// Against the floor: for the read scenarios the median of the ratios of slices measured
    /// side by side (see [`SLICE`]); for `use_key`, `ops_per_sec /
    /// floor_ops_per_sec`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// Further floors measured in the same rounds: on SQLite, sqlx alone (what the SeaORM
    /// adapter can reach at best).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_floors: Vec<OtherFloor>,
    /// `validate_session` on SQLite and PostgreSQL: lucia@2 on Node, measured in the same
    /// turns as lucia and its floors (its median rate, and the median of the slices' own
    /// ratios, lucia's over lucia@2's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ops_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ratio: Option<f64>,
    /// The peer's own lines: its name (`lucia@2`) and its runtime (`node` and its version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The password hasher of `use_key`, `create_user` and `validate_during_signins` lines:
    /// `argon2id` (the default) or `s2` (Lucia v2's scrypt, as in the compat mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hasher: Option<&'static str>,
    /// How password hashes ran, when not as lucia runs them by default (in the background):
    /// `normal priority` for [`HashingPriority::Normal`], `background, idle cgroup` with the
    /// hashing threads in an idle cgroup ([`lucia::HashingCgroup`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashing: Option<&'static str>,
    /// `validate_during_signins`: the p99 of the same validation with no sign-ins running,
    /// measured in windows alternating with the busy ones (medians over the windows), and the
    /// median of the pairs' own ratios of p99s (not `p99_us / idle_p99_us`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_p99_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ratio: Option<f64>,
    /// `allocations`: which operation, and what one call allocates on the thread that polls
    /// it (and what the floor's allocates, for validate_session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocations_per_op: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_op: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_allocations_per_op: Option<f64>,
    /// `concurrent_sign_ins`: resident memory before and at the peak while `in_flight`
    /// sign-ins were under way, how many finished in the time measured, and the bound the
    /// hashing threads set (their number x one hash's memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_before_mib: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_peak_mib: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<usize>,
    /// `concurrent_sign_ins`: how many were refused at once with `Error::Busy` (past the
    /// hashing threads and their queue) instead of waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashing_bound_mib: Option<f64>,
}

/// A floor beyond the first.
#[derive(Debug, Serialize)]
pub struct OtherFloor {
    pub floor: String,
    pub ops_per_sec: f64,
    /// As [`Record::ratio`].
    pub ratio: f64,
}

impl Record {
    fn new(scenario: &'static str, backend: &str, in_flight: usize, sample: Sample) -> Self {
        Self {
            scenario,
            backend: backend.to_owned(),
            in_flight,
            ops_per_sec: sample.ops_per_sec,
            p50_us: sample.p50_us,
            p99_us: sample.p99_us,
            ..Self::default()
        }
    }

    /// An `allocations` line: what one call of `call` (named `name`) allocates.
    fn allocations(backend: &str, name: &'static str, call: &Op) -> Self {
        let (count, bytes) = memory::allocations_per_op(call);
        let mut record = Self::memory("allocations", backend, 1);
        (record.op, record.allocations_per_op, record.bytes_per_op) = (Some(name), Some(count), Some(bytes));
        record
    }

    /// A line that reports no speed, only memory.
    fn memory(scenario: &'static str, backend: &str, in_flight: usize) -> Self {
        Self::new(scenario, backend, in_flight, Sample { ops_per_sec: f64::NAN, p50_us: f64::NAN, p99_us: f64::NAN })
    }

    fn with_floor(mut self, floor: String, floor_ops_per_sec: f64, ratio: f64) -> Self {
        self.ratio = Some(ratio);
        self.floor = Some(floor);
        self.floor_ops_per_sec = Some(floor_ops_per_sec);
        self
    }
}

/// A scenario's subject and, for the read scenarios, its floors and the lucia@2 peer, measured
/// in alternate rounds.
pub(crate) struct Scenario<'p> {
    pub(crate) name: &'static str,
    pub(crate) in_flight: usize,
    pub(crate) op: Op,
    pub(crate) floors: Vec<(String, Op)>,
    /// Runs first in every turn, before lucia and its floors take theirs: so lucia and the
    /// last floor each follow it in one turn of two, and its own ratio pairs slices of the
    /// same turn.
    pub(crate) peer: Option<&'p mut Driven>,
}

/// How long each slice lasts when a subject is compared with its floors (a round is cut into
/// `--seconds` / `SLICE` of them). A shared machine's speed drifts: on this VM a read that hops
/// to sqlx's SQLite worker thread moved by ±20% from one 0.5 s slice to the next (rusqlite's by
/// 3%). Many short slices, the subject and its floors taking turns ([`taking_turns`],
/// [`floor_order`]), put both sides on the same drift, and the
/// median of the slices' own ratios stands on many pairs. Checked with sqlx against itself (the
/// same statement on two pools of the same settings, in the places of lucia and of the sqlx
/// floor on SQLite): 0.97–1.05 across runs with 12 slices of 0.5 s, 1.00–1.015 with 50 ms
/// slices.
const SLICE: Duration = Duration::from_millis(50);

impl Scenario<'_> {
    pub(crate) async fn run(self, backend: &str, settings: &Settings) -> Record {
        let mut peer = self.peer;
        let warm_up = Duration::from_secs_f64(settings.warm_up_seconds);
        measure::run(&self.op, self.in_flight, warm_up).await;
        for (_, floor) in &self.floors {
            measure::run(floor, self.in_flight, warm_up).await;
        }
        if let Some(peer) = peer.as_mut() {
            peer.warm_up(self.in_flight, warm_up);
        }
        let sliced = !self.floors.is_empty() || peer.is_some();
        let slices = if sliced { (settings.duration().div_duration_f64(SLICE) as u32).max(1) } else { 1 };
        let slice = settings.duration() / slices;
        let mut subject = Vec::new();
        let mut floors = vec![Vec::new(); self.floors.len()];
        let mut peer_samples = Vec::new();
        for turn in 0..settings.rounds * slices as usize {
            if let Some(peer) = peer.as_mut() {
                peer_samples.extend(peer.slice(self.in_flight, slice));
            }
            taking_turns(
                turn,
                async || subject.push(measure::run(&self.op, self.in_flight, slice).await),
                async || {
                    for i in floor_order(turn, self.floors.len()) {
                        floors[i].push(measure::run(&self.floors[i].1, self.in_flight, slice).await);
                    }
                },
            )
            .await;
        }
        let mut record = Record::new(self.name, backend, self.in_flight, Sample::median(&subject));
        // A peer that stopped part way has no pairs to give.
        if peer.is_some() && peer_samples.len() == subject.len() {
            record.peer_ops_per_sec = Some(Sample::median(&peer_samples).ops_per_sec);
            record.peer_ratio = Some(measure::paired_ratio(rates(&subject), rates(&peer_samples)));
        }
        for ((name, _), samples) in self.floors.into_iter().zip(floors) {
            let rate = Sample::median(&samples).ops_per_sec;
            let ratio = measure::paired_ratio(rates(&subject), rates(&samples));
            if record.floor.is_none() {
                record = record.with_floor(name, rate, ratio);
            } else {
                record.other_floors.push(OtherFloor { floor: name, ops_per_sec: rate, ratio });
            }
        }
        record
    }
}

/// Runs every scenario on `adapter`, handing each line to `emit` as soon as it is measured;
/// `peer` takes its turns in `validate_session` and is ended after it.
pub async fn run_all<A>(
    backend: &str,
    adapter: A,
    floors: Vec<Floor>,
    mut peer: Option<Driven>,
    settings: &Settings,
    emit: &mut dyn FnMut(Record),
) where
    A: Adapter + Clone + 'static,
{
    // Without the per-key sign-in throttle: the sign-in scenarios sign the same few users in
    // many times at once, which it would refuse after five attempts each, before hashing.
    let hashed = Lucia::builder(adapter.clone()).without_sign_in_throttle().build();
    let compat = Lucia::builder(adapter.clone()).lucia_v2_compat().without_sign_in_throttle().build();
    let users = make_users(&hashed, settings.users).await;

    // validate_session on active sessions, both token modes, against the floor.
    let modes =
        if settings.wants("validate_session") { vec![("hashed", &hashed), ("v2_compat", &compat)] } else { Vec::new() };
    for (tokens, auth) in modes {
        let (tokens_, stored_ids) = make_sessions(auth, &users, settings.sessions).await;
        for in_flight in [1, 32] {
            let floors = floors.iter().map(|floor| (floor.driver(), floor_read_op(floor, &stored_ids))).collect();
            let op = validate_op(auth, &tokens_);
            let scenario = Scenario { name: "validate_session", in_flight, op, floors, peer: peer.as_mut() };
            let mut record = scenario.run(backend, settings).await;
            record.tokens = Some(tokens);
            emit(record);
        }
    }
    // The peer's own lines: every slice it ran beside both token modes (lucia@2 has one).
    if let Some(peer) = peer.take() {
        for (in_flight, sample) in peer.medians() {
            let mut record = Record::new("validate_session", backend, in_flight, sample);
            (record.peer, record.runtime) = (Some(peer::NAME), Some(peer.runtime().to_owned()));
            emit(record);
        }
    }

    // What one validate_session and one create_session allocate, beside the floor's read.
    if settings.wants("allocations") {
        let (tokens_, stored_ids) = make_sessions(&hashed, &users, settings.sessions).await;
        let mut record = Record::allocations(backend, "validate_session", &validate_op(&hashed, &tokens_));
        if let Some(floor) = floors.first() {
            record.floor = Some(floor.driver());
            record.floor_allocations_per_op = Some(memory::allocations_per_op(&floor_read_op(floor, &stored_ids)).0);
        }
        emit(record);
        emit(Record::allocations(backend, "create_session", &create_session_op(&hashed, &users)));
    }

    // validate_session that renews every time: no active period, and a clock that moves on
    // by a millisecond at each reading, so every validation finds its session idle.
    if settings.wants("validate_session_renew") {
        let renewing = renewing(adapter.clone());
        let (renew_tokens, _) = make_sessions(&renewing, &users, settings.sessions).await;
        let subject = op(move |i| {
            let (auth, tokens) = (renewing.clone(), Arc::clone(&renew_tokens));
            async move {
                let session = auth.validate_session(&tokens[i % tokens.len()]).await.expect("validate_session");
                assert!(session.fresh, "the session was not renewed");
            }
        });
        let scenario =
            Scenario { name: "validate_session_renew", in_flight: 1, op: subject, floors: Vec::new(), peer: None };
        emit(scenario.run(backend, settings).await);
    }

    // create_session for existing users.
    if settings.wants("create_session") {
        let subject = create_session_op(&hashed, &users);
        let scenario = Scenario { name: "create_session", in_flight: 1, op: subject, floors: Vec::new(), peer: None };
        emit(scenario.run(backend, settings).await);
    }

    // The default Lucia (Argon2id) and one writing Lucia v2's `s2:` hashes.
    let by_hasher: Vec<(&'static str, Lucia<A>)> = HASHERS
        .iter()
        .map(|&name| {
            let auth = if name == "s2" {
                Lucia::builder(adapter.clone()).password_hasher(LuciaScrypt).without_sign_in_throttle().build()
            } else {
                hashed.clone()
            };
            (name, auth)
        })
        .collect();

    // create_user with a password key: one hash each, per hasher.
    if settings.wants("create_user") {
        for (name, auth) in &by_hasher {
            let auth = auth.clone();
            let prefix = lucia::generate_random_string(8);
            let subject = op(move |i| {
                let (auth, email) = (auth.clone(), format!("new-{prefix}-{i}@example.com"));
                async move {
                    let key = NewKey::password("email", email, PASSWORD);
                    auth.create_user(CreateUser::new(Default::default()).with_key(key)).await.expect("create_user");
                }
            });
            let scenario = Scenario {
                name: "create_user",
                in_flight: settings.sign_ins,
                op: subject,
                floors: Vec::new(),
                peer: None,
            };
            let mut record = scenario.run(backend, settings).await;
            record.hasher = Some(name);
            emit(record);
        }
    }

    // use_key with a password, per hasher, against raw hashing on every core.
    let (use_key, during_signins) = (settings.wants("use_key"), settings.wants("validate_during_signins"));
    let (allocations, concurrent) = (settings.wants("allocations"), settings.wants("concurrent_sign_ins"));
    if !use_key && !during_signins && !allocations && !concurrent {
        return;
    }
    let emails = make_password_users(&hashed, settings.sign_ins).await;
    let sign_in = use_key_op(&hashed, &emails);
    if allocations {
        // The request's side only: the hash itself (19 MiB of Argon2id) is allocated on a
        // hashing thread, and shows in `concurrent_sign_ins`.
        emit(Record::allocations(backend, "use_key", &sign_in));
    }
    if concurrent {
        // All at once: past the hashing threads and their queue (16 per thread by default),
        // sign-ins are refused at once with `Busy` instead of waiting in memory.
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let count = settings.concurrent_sign_ins;
        let busy = Arc::new(AtomicUsize::new(0));
        let tolerant = use_key_or_busy_op(&hashed, &emails, &busy);
        if let Some(seen) = memory::concurrent_sign_ins(&tolerant, count, settings.duration()).await {
            let refused = busy.load(Ordering::Relaxed);
            let mut record = Record::memory("concurrent_sign_ins", backend, count);
            record.rss_before_mib = Some(seen.before_mib);
            record.rss_peak_mib = Some(seen.peak_mib);
            record.finished = Some(seen.finished.saturating_sub(refused));
            record.busy = Some(refused);
            record.hashing_bound_mib = Some(threads as f64 * ARGON2ID_MIB);
            emit(record);
        }
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let validate = if during_signins {
        Some(validate_op(&hashed, &make_sessions(&hashed, &users, settings.sessions).await.0))
    } else {
        None
    };
    for (name, auth) in &by_hasher {
        let sign_in = if *name == HASHERS[0] {
            Arc::clone(&sign_in)
        } else {
            use_key_op(auth, &make_password_users(auth, settings.sign_ins).await)
        };
        if use_key {
            let mut record = use_key_against_raw(backend, &sign_in, name, cores, settings).await;
            record.hasher = Some(name);
            emit(record);
        }
        // validate_session p99 while sign-ins hash, beside its idle p99 in alternate rounds.
        if let Some(validate) = &validate {
            let mut record = validate_during_signins(backend, validate, &sign_in, settings).await;
            record.hasher = Some(name);
            emit(record);
        }
    }

    // The same two sign-in lines (default hasher) with the hashes at the same priority as
    // everything else (what lucia did before `HashingPriority::Background`), to show what the
    // priority buys; and with them in an idle cgroup, below other processes too.
    let normal = Lucia::builder(adapter.clone()).hashing_priority(HashingPriority::Normal).without_sign_in_throttle();
    let mut variants = vec![(NORMAL_PRIORITY, normal.build())];
    if let Some(cgroup) = idle_cgroup() {
        variants.push((IDLE_CGROUP, Lucia::builder(adapter).hashing_cgroup(cgroup).without_sign_in_throttle().build()));
    }
    for (hashing, auth) in &variants {
        let sign_in = use_key_op(auth, &emails);
        if use_key {
            let mut record = use_key_against_raw(backend, &sign_in, HASHERS[0], cores, settings).await;
            record.hashing = Some(hashing);
            record.hasher = Some(HASHERS[0]);
            emit(record);
        }
        if let Some(validate) = &validate {
            let mut record = validate_during_signins(backend, validate, &sign_in, settings).await;
            record.hashing = Some(hashing);
            record.hasher = Some(HASHERS[0]);
            emit(record);
        }
    }
}

/// The `hashing` of lines measured with the hashes in an idle cgroup ([`idle_cgroup`]).
const IDLE_CGROUP: &str = "background, idle cgroup";

/// An idle cgroup for the hashing threads, `lucia-bench-hashing` below this process's own
/// (made once, kept for the next run), or `None` with a message where none can be made
/// (no root, no delegated cgroup, no Linux).
fn idle_cgroup() -> Option<HashingCgroup> {
    static CGROUP: std::sync::OnceLock<Option<HashingCgroup>> = std::sync::OnceLock::new();
    CGROUP
        .get_or_init(|| {
            HashingCgroup::create_in_own_cgroup("lucia-bench-hashing")
                .inspect_err(|e| eprintln!("lucia-bench: no `{IDLE_CGROUP}` lines: {e}"))
                .ok()
        })
        .clone()
}

/// The `hashing` of lines measured with [`HashingPriority::Normal`].
const NORMAL_PRIORITY: &str = "normal priority";

fn renewing<A: Adapter>(adapter: A) -> Lucia<A> {
    let ticks = Arc::new(AtomicU64::new(0));
    Lucia::builder(adapter)
        .session_expires_in(SessionExpiresIn {
            active_period: Duration::ZERO,
            idle_period: SessionExpiresIn::default().idle_period,
        })
        .clock(move || SystemTime::now() + Duration::from_millis(ticks.fetch_add(1, Ordering::Relaxed)))
        .build()
}

async fn make_users<A: Adapter>(auth: &Lucia<A>, count: usize) -> Arc<Vec<String>> {
    let mut users = Vec::with_capacity(count);
    for _ in 0..count {
        users.push(auth.create_user(CreateUser::new(Default::default())).await.expect("create_user").user_id);
    }
    Arc::new(users)
}

/// `count` sessions spread over `users`: their tokens, and the ids stored for them.
async fn make_sessions<A: Adapter>(
    auth: &Lucia<A>,
    users: &[String],
    count: usize,
) -> (Arc<Vec<String>>, Arc<Vec<String>>) {
    let (mut tokens, mut stored_ids) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for i in 0..count {
        let new = auth.create_session(CreateSession::for_user(&users[i % users.len()])).await.expect("create_session");
        let token = new.token.expose_secret().to_owned();
        stored_ids.push(auth.config().session_tokens.stored_id(&token));
        tokens.push(token);
    }
    (Arc::new(tokens), Arc::new(stored_ids))
}

/// `count` users with an email key and [`PASSWORD`]; their emails.
async fn make_password_users<A: Adapter>(auth: &Lucia<A>, count: usize) -> Arc<Vec<String>> {
    let prefix = lucia::generate_random_string(8);
    let mut emails = Vec::with_capacity(count);
    for i in 0..count {
        let email = format!("user-{prefix}-{i}@example.com");
        let key = NewKey::password("email", email.clone(), PASSWORD);
        auth.create_user(CreateUser::new(Default::default()).with_key(key)).await.expect("create_user");
        emails.push(email);
    }
    Arc::new(emails)
}

/// `validate_session` of the next of `tokens`.
fn validate_op<A: Adapter + 'static>(auth: &Lucia<A>, tokens: &Arc<Vec<String>>) -> Op {
    let (auth, tokens) = (auth.clone(), Arc::clone(tokens));
    op(move |i| {
        let (auth, tokens) = (auth.clone(), Arc::clone(&tokens));
        async move {
            auth.validate_session(&tokens[i % tokens.len()]).await.expect("validate_session");
        }
    })
}

/// The floor's read of the next of `stored_ids`.
fn floor_read_op(floor: &Floor, stored_ids: &Arc<Vec<String>>) -> Op {
    let (raw, stored_ids) = (floor.clone(), Arc::clone(stored_ids));
    op(move |i| {
        let (raw, stored_ids) = (raw.clone(), Arc::clone(&stored_ids));
        async move { raw.get_session_and_user(&stored_ids[i % stored_ids.len()]).await }
    })
}

/// `create_session` for the next of `users`.
fn create_session_op<A: Adapter + 'static>(auth: &Lucia<A>, users: &Arc<Vec<String>>) -> Op {
    let (auth, users) = (auth.clone(), Arc::clone(users));
    op(move |i| {
        let (auth, users) = (auth.clone(), Arc::clone(&users));
        async move {
            auth.create_session(CreateSession::for_user(&users[i % users.len()])).await.expect("create_session");
        }
    })
}

/// `use_key` of the next of `emails`, counting the calls refused with `Error::Busy` in `busy`
/// (any other failure panics).
fn use_key_or_busy_op<A: Adapter + 'static>(auth: &Lucia<A>, emails: &Arc<Vec<String>>, busy: &Arc<AtomicUsize>) -> Op {
    let (auth, emails, busy) = (auth.clone(), Arc::clone(emails), Arc::clone(busy));
    op(move |i| {
        let (auth, emails, busy) = (auth.clone(), Arc::clone(&emails), Arc::clone(&busy));
        async move {
            match auth.use_key("email", &emails[i % emails.len()], Some(PASSWORD)).await {
                Ok(_) => {}
                Err(Error::Busy) => {
                    busy.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => panic!("use_key: {error}"),
            }
        }
    })
}

fn use_key_op<A: Adapter + 'static>(auth: &Lucia<A>, emails: &Arc<Vec<String>>) -> Op {
    let (auth, emails) = (auth.clone(), Arc::clone(emails));
    op(move |i| {
        let (auth, emails) = (auth.clone(), Arc::clone(&emails));
        async move {
            auth.use_key("email", &emails[i % emails.len()], Some(PASSWORD)).await.expect("use_key");
        }
    })
}

/// The process of [`measure::raw_hashes`]: with `[hasher, threads, seconds]`, prints how many
/// checks of the benchmark users' password `hasher` makes per second on `threads` threads.
pub fn raw_hashes_process(args: &[String]) -> Result<(), String> {
    let [name, threads, seconds] = args else {
        return Err(format!("{} takes a hasher, a number of threads and seconds", measure::RAW_HASHES_FLAG));
    };
    let hasher = hasher(name).ok_or_else(|| format!("unknown hasher {name}: one of {}", HASHERS.join(", ")))?;
    let threads = threads.parse::<NonZeroUsize>().map_err(|e| format!("threads {threads}: {e}"))?;
    let seconds: f64 = seconds.parse().map_err(|e| format!("seconds {seconds}: {e}"))?;
    let duration = Duration::try_from_secs_f64(seconds).map_err(|e| format!("seconds {seconds}: {e}"))?;
    let hash = hasher.hash(PASSWORD).map_err(|e| e.to_string())?;
    let check = || assert!(hasher.verify(PASSWORD, &hash).expect("verify"), "the password did not verify");
    println!("{}", measure::hashes_per_second(threads.get(), duration, &check));
    Ok(())
}

/// `use_key` (`sign_in`) at `settings.sign_ins` in flight, against raw checks of the same
/// hasher on `cores` threads with nothing else running, in pairs of rounds taking turns to go
/// first; the ratio is the median of the pairs' own ratios, so that whatever else the machine
/// does meanwhile (a database's autovacuum after the write scenarios, a neighbour's load on the
/// host) weighs on both alike. A round holds only tens of hashes, so there are twice as many
/// pairs as `settings.rounds`.
async fn use_key_against_raw(backend: &str, sign_in: &Op, hasher: &str, cores: usize, settings: &Settings) -> Record {
    let (mut subject, mut raw_rates) = (Vec::new(), Vec::new());
    for pair in 0..settings.rounds * SIGN_IN_PAIRS_PER_ROUND {
        taking_turns(
            pair,
            async || subject.push(measure::run(sign_in, settings.sign_ins, settings.duration()).await),
            async || raw_rates.push(measure::raw_hashes(hasher, cores, settings.duration()).await),
        )
        .await;
    }
    let record = Record::new("use_key", backend, settings.sign_ins, Sample::median(&subject));
    let ratio = measure::paired_ratio(rates(&subject), raw_rates.iter().copied());
    let floor = format!("{hasher}: raw hashes on {cores} threads, in a process of their own");
    record.with_floor(floor, measure::median(raw_rates), ratio)
}

/// Runs `subject`, then `floors` on even turns, and the other way round on odd ones, so that
/// a drift of the machine's speed weighs on both sides alike.
async fn taking_turns(turn: usize, mut subject: impl AsyncFnMut(), mut floors: impl AsyncFnMut()) {
    if turn.is_multiple_of(2) {
        subject().await;
        floors().await;
    } else {
        floors().await;
        subject().await;
    }
}

/// The order in which `count` floors run at `turn`: as given when the subject went first
/// ([`taking_turns`]), reversed when they go first, so that each turn mirrors the one before
/// (lucia, A, B, then B, A, lucia) and lucia and the last floor follow the same slices equally
/// often. In a fixed order the sqlx floor on SQLite always followed rusqlite's CPU-bound slice,
/// and sqlx against itself measured 0.96–0.98 in lucia's place.
fn floor_order(turn: usize, count: usize) -> impl Iterator<Item = usize> {
    let mirrored = !turn.is_multiple_of(2);
    (0..count).map(move |i| if mirrored { count - 1 - i } else { i })
}

/// Pairs of `use_key` and raw-hash rounds per `settings.rounds` (see [`use_key_against_raw`]).
const SIGN_IN_PAIRS_PER_ROUND: usize = 2;

/// The rates of `samples`.
fn rates(samples: &[Sample]) -> impl Iterator<Item = f64> + '_ {
    samples.iter().map(|sample| sample.ops_per_sec)
}

/// `validate` at one in flight while `settings.sign_ins` tasks call `sign_in` back to back,
/// beside the same validation with nothing else running, in pairs of windows taking turns to
/// go first ([`taking_turns`]); `p99_ratio` is the median of the pairs' own ratios of p99s, so
/// that a stall of the machine (on this VM the idle p99 on PostgreSQL swung from 0.36 to
/// 1.9 ms between runs a minute apart) weighs on both sides of a pair alike.
async fn validate_during_signins(backend: &str, validate: &Op, sign_in: &Op, settings: &Settings) -> Record {
    let window = settings.duration() / SIGN_IN_WINDOWS_PER_ROUND;
    let (mut idle, mut busy) = (Vec::new(), Vec::new());
    for pair in 0..settings.rounds * SIGN_IN_WINDOWS_PER_ROUND as usize {
        taking_turns(
            pair,
            async || busy.push(during_signins(validate, sign_in, settings.sign_ins, window).await),
            async || idle.push(measure::run(validate, 1, window).await),
        )
        .await;
    }
    let p99_ratio = measure::paired_ratio(busy.iter().map(|s| s.p99_us), idle.iter().map(|s| s.p99_us));
    let (idle, busy) = (Sample::median(&idle), Sample::median(&busy));
    let mut record = Record::new("validate_during_signins", backend, 1, busy);
    record.idle_p99_us = Some(idle.p99_us);
    record.p99_ratio = Some(p99_ratio);
    record
}

/// Pairs of windows per `settings.rounds` in [`validate_during_signins`]. A window of a
/// quarter of `--seconds` (0.5 s) held 860 validations or more in run 6 (the fewest: Redis
/// sessions with the hashes at normal priority), so its p99 stands on at least 8 of them.
const SIGN_IN_WINDOWS_PER_ROUND: u32 = 4;

/// `validate` at one in flight for `window` while `sign_ins` tasks call `sign_in` back to
/// back; they start before it and it ends before they stop.
async fn during_signins(validate: &Op, sign_in: &Op, sign_ins: usize, window: Duration) -> Sample {
    let stop = Arc::new(AtomicBool::new(false));
    let mut signers = tokio::task::JoinSet::new();
    for i in 0..sign_ins {
        let (sign_in, stop) = (Arc::clone(sign_in), Arc::clone(&stop));
        signers.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sign_in(i).await;
            }
        });
    }
    // Let the hashes start before measuring.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sample = measure::run(validate, 1, window).await;
    stop.store(true, Ordering::Relaxed);
    signers.join_all().await;
    sample
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_subject_goes_first_on_even_turns_and_last_on_odd_ones() {
        let order = std::cell::RefCell::new(Vec::new());
        for turn in 0..3 {
            taking_turns(turn, async || order.borrow_mut().push("subject"), async || order.borrow_mut().push("floors"))
                .await;
        }
        assert_eq!(order.into_inner(), ["subject", "floors", "floors", "subject", "subject", "floors"]);
    }

    #[tokio::test]
    async fn each_turn_mirrors_the_one_before() {
        let order = std::cell::RefCell::new(Vec::new());
        let floors = ["rusqlite", "sqlx"];
        for turn in 0..3 {
            taking_turns(
                turn,
                async || order.borrow_mut().push("lucia"),
                async || order.borrow_mut().extend(floor_order(turn, floors.len()).map(|i| floors[i])),
            )
            .await;
        }
        let expected = ["lucia", "rusqlite", "sqlx", "sqlx", "rusqlite", "lucia", "lucia", "rusqlite", "sqlx"];
        assert_eq!(order.into_inner(), expected);
        assert_eq!(floor_order(1, 1).collect::<Vec<_>>(), [0]);
        assert_eq!(floor_order(1, 0).count(), 0);
    }
}
