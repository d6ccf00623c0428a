//! `lucia-bench`: lucia's speed on each backend, beside the raw driver under it.
//!
//! ```text
//! cargo run --release -p lucia-bench -- --json
//! ```
//!
//! Prints one line per scenario and backend (JSON with `--json`). Backends: `sqlite` (a
//! temporary file, `lucia-adapter-sqlite`), `sqlite-sea-orm` (the same through SeaORM),
//! `postgres`, `mysql` (MariaDB or MySQL) and `redis` (sessions in Redis, users in PostgreSQL
//! when it is reachable, else SQLite). Server URLs come from the flags or
//! the tests' variables `LUCIA_TEST_POSTGRES_URL`, `LUCIA_TEST_MYSQL_URL` and
//! `LUCIA_TEST_REDIS_URL`; a backend without a URL or whose server does not answer is skipped
//! with a message on stderr. Each backend runs in a schema, database or key prefix of its own,
//! removed at the end; stopped by Ctrl-C (SIGINT) or SIGTERM, the run stops the step under way,
//! removes its store and exits with status 130 (a second signal exits at once).
//!
//! Memory: `allocations` lines say what one validate_session, create_session and use_key
//! allocate (counted on the thread that polls the call; the floor's read beside
//! validate_session), and `concurrent_sign_ins` starts 1,000 sign-ins at once and reports the
//! peak resident memory while they run against the bound the hashing threads set, how many
//! finished, and how many were refused at once with `Error::Busy` (past the hashing threads
//! and their queue of 16 per thread).
//!
//! The sign-in lines (`create_user`, `use_key` with its raw floor, `validate_during_signins`)
//! run once per password hasher, named by their `hasher` field: `argon2id` (the default) and
//! `s2` (Lucia v2's scrypt, the compat mode's writer).
//!
//! Flags: `--json`, `--quick` (very short runs, to check that the benchmark works),
//! `--seconds S` (each measurement, default 2), `--scenarios validate_session,use_key` (only
//! these; default all), `--rounds N` (alternating rounds of lucia and its floor, default 3,
//! each cut into slices where lucia is compared with a floor; medians are reported; `use_key`
//! against raw hashes runs 2N pairs of whole rounds, the raw hashes in processes of their own), `--backends
//! sqlite,sqlite-sea-orm,postgres,mysql,redis`, `--pool-size N` (default 10, sqlx's default;
//! all opened up front), `--postgres-url`, `--mysql-url`, `--redis-url`, `--no-peer`,
//! `--peer-dir DIR`, `--help`.
//!
//! `http_me` (SQLite and PostgreSQL): the demo's `GET /api/me` over HTTP/1.1 keep-alive, beside
//! a minimal axum handler doing the same work by hand (see `http.rs`; `LUCIA_BENCH_HTTP_LOG=1`
//! installs the demo's log subscriber, writing to a sink).
//!
//! The peer: on `sqlite` and `postgres`, the same scenarios with the real lucia@2.7.7 on Node
//! (`interop/lucia-v2/bench.mjs`, lines with `"peer": "lucia@2"`), when `node` is on the PATH
//! and `interop/lucia-v2/node_modules` is installed (`npm ci --prefix interop/lucia-v2`); else
//! skipped with a message on stderr. Its `validate_session` takes turns with lucia-rs's and
//! the floors' (lucia-rs's lines then carry `peer_ops_per_sec` and `peer_ratio`); its other
//! scenarios run after lucia-rs's. `--no-peer` skips it, `--peer-dir DIR` runs the
//! `bench.mjs` in `DIR`.

mod backend;
mod http;
mod measure;
mod memory;
mod peer;
mod scenarios;

// Counts allocations, per thread, for the `allocations` lines (a thread-local increment per
// allocation: the same small cost for lucia and for its floors).
use allocation_counter as _;

use lucia::SplitAdapter;
use lucia_adapter_redis::RedisSessionAdapter;
use lucia_adapter_sea_orm::{NoSessionTable, SeaOrmAdapter, SeaOrmUserAdapter, Tables, entity};

use backend::Floor;
use backend::{PoolSettings, RedisPrefix, SqlBackend, Store};
use scenarios::{Record, Settings};

/// `true` once SIGINT or SIGTERM has arrived (see [`listen_for_stop`]).
static STOP: std::sync::LazyLock<tokio::sync::watch::Sender<bool>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(false).0);

/// Sets [`STOP`] on the first SIGINT or SIGTERM, and exits on the second.
fn listen_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    let (interrupt, terminate) = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(e), _) | (_, Err(e)) => {
            return eprintln!("lucia-bench: cannot catch signals ({e}): a stop leaves its store");
        }
    };
    let (mut interrupt, mut terminate) = (interrupt, terminate);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            if STOP.send_replace(true) {
                std::process::exit(STOPPED_STATUS);
            }
            eprintln!("lucia-bench: stopping; removing the benchmark's store (again to exit at once)");
        }
    });
}

/// The exit status of a run stopped by a signal (as a shell reports one stopped by SIGINT).
const STOPPED_STATUS: i32 = 130;

/// Runs `work` unless the run is stopped first: then `work` is dropped, with the tasks it
/// spawned (they are in `JoinSet`s), and the caller goes on to remove its store.
async fn unless_stopped(work: impl Future<Output = ()>) {
    let mut stop = STOP.subscribe();
    tokio::select! {
        () = work => {}
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
}

/// Exits if the run was stopped, once the step under way has removed its store.
fn exit_if_stopped() {
    if *STOP.borrow() {
        std::process::exit(STOPPED_STATUS);
    }
}

const BACKENDS: [&str; 5] = ["sqlite", "sqlite-sea-orm", "postgres", "mysql", "redis"];

struct Args {
    json: bool,
    settings: Settings,
    backends: Vec<String>,
    pool: PoolSettings,
    postgres_url: Option<String>,
    mysql_url: Option<String>,
    redis_url: Option<String>,
    /// The lucia@2 peer: off with `--no-peer`; `--peer-dir`; `--quick`, for its own settings.
    no_peer: bool,
    peer_dir: Option<std::path::PathBuf>,
    quick: bool,
}

fn usage_line() -> String {
    format!(
        "usage: lucia-bench [--json] [--quick] [--seconds S] [--rounds N] [--backends {}] [--scenarios A,B] [--pool-size N] \
         [--postgres-url URL] [--mysql-url URL] [--redis-url URL] [--no-peer] [--peer-dir DIR]",
        BACKENDS.join(",")
    )
}

fn usage(problem: &str) -> ! {
    eprintln!("lucia-bench: {problem}");
    eprintln!("{}", usage_line());
    std::process::exit(2)
}

fn parse_args() -> Args {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut args = Args {
        json: false,
        settings: Settings {
            seconds: 2.0,
            rounds: 3,
            warm_up_seconds: 0.5,
            users: 100,
            sessions: 1000,
            sign_ins: 4,
            concurrent_sign_ins: 1000,
            only: None,
        },
        backends: BACKENDS.iter().map(|b| b.to_string()).collect(),
        pool: PoolSettings { max_connections: 10 },
        postgres_url: env("LUCIA_TEST_POSTGRES_URL"),
        mysql_url: env("LUCIA_TEST_MYSQL_URL"),
        redis_url: env("LUCIA_TEST_REDIS_URL"),
        no_peer: false,
        peer_dir: None,
        quick: false,
    };
    let mut given = std::env::args().skip(1);
    let mut quick = false;
    let (mut seconds, mut rounds) = (None, None);
    while let Some(flag) = given.next() {
        let mut value = || given.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = |v: String| v.parse::<f64>().ok().filter(|n| *n > 0.0).unwrap_or_else(|| usage(&flag));
        match flag.as_str() {
            "--json" => args.json = true,
            "--quick" => quick = true,
            "--seconds" => seconds = Some(number(value())),
            "--rounds" => rounds = Some(number(value()) as usize),
            "--pool-size" => args.pool.max_connections = number(value()) as u32,
            "--scenarios" => args.settings.only = Some(value().split(',').map(str::to_owned).collect()),
            "--backends" => args.backends = value().split(',').map(str::to_owned).collect(),
            "--postgres-url" => args.postgres_url = Some(value()),
            "--mysql-url" => args.mysql_url = Some(value()),
            "--redis-url" => args.redis_url = Some(value()),
            "--no-peer" => args.no_peer = true,
            "--peer-dir" => args.peer_dir = Some(value().into()),
            "--help" | "-h" => {
                println!("{}\nThe flags and the output are described in BENCHMARKS.md.", usage_line());
                std::process::exit(0)
            }
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    if quick {
        let only = args.settings.only.take();
        args.settings = Settings {
            seconds: 0.05,
            rounds: 1,
            warm_up_seconds: 0.01,
            users: 5,
            sessions: 20,
            sign_ins: 2,
            concurrent_sign_ins: 50,
            only,
        };
    }
    args.quick = quick;
    args.settings.seconds = seconds.unwrap_or(args.settings.seconds);
    args.settings.rounds = rounds.unwrap_or(args.settings.rounds).max(1);
    if let Some(unknown) = args.backends.iter().find(|b| !BACKENDS.contains(&b.as_str())) {
        usage(&format!("unknown backend {unknown}"));
    }
    args
}

fn print(json: bool, record: &Record) {
    if json {
        println!("{}", serde_json::to_string(record).expect("a record serialises"));
        return;
    }
    if let (Some(op), Some(count), Some(bytes)) = (record.op, record.allocations_per_op, record.bytes_per_op) {
        let mut line = format!(
            "{:<24} {:<16} {:<16} {count:>7.1} allocations, {bytes:>8.0} bytes per call",
            record.scenario, record.backend, op
        );
        if let (Some(floor), Some(floor_count)) = (&record.floor, record.floor_allocations_per_op) {
            line += &format!("  floor {floor_count:.1} allocations ({floor})");
        }
        return println!("{line}");
    }
    if let (Some(before), Some(peak), Some(finished), Some(bound)) =
        (record.rss_before_mib, record.rss_peak_mib, record.finished, record.hashing_bound_mib)
    {
        return println!(
            "{:<24} {:<16} in_flight={:<5} resident {before:.0} MiB before, peak {peak:.0} MiB (+{:.0}, hashing bound {bound:.0} MiB), {finished} finished",
            record.scenario,
            record.backend,
            record.in_flight,
            peak - before
        );
    }
    let mut line = format!(
        "{:<24} {:<16} {:<10} in_flight={:<3} {:>9.0}/s  p50 {:>8.1} µs  p99 {:>8.1} µs",
        record.scenario,
        record.backend,
        record.tokens.or(record.peer).unwrap_or(""),
        record.in_flight,
        record.ops_per_sec,
        record.p50_us,
        record.p99_us
    );
    if let (Some(floor), Some(rate), Some(ratio)) = (&record.floor, record.floor_ops_per_sec, record.ratio) {
        line += &format!("  floor {rate:.0}/s ({floor}), ratio {ratio:.2}");
    }
    for other in &record.other_floors {
        line += &format!("; {:.0}/s ({}), ratio {:.2}", other.ops_per_sec, other.floor, other.ratio);
    }
    if let (Some(rate), Some(ratio)) = (record.peer_ops_per_sec, record.peer_ratio) {
        line += &format!("; {rate:.0}/s ({}), {ratio:.2}x", peer::NAME);
    }
    if let Some(runtime) = &record.runtime {
        line += &format!("  ({runtime})");
    }
    if let Some(hashing) = record.hashing {
        line += &format!("  hashing at {hashing}");
    }
    if let (Some(idle), Some(ratio)) = (record.idle_p99_us, record.p99_ratio) {
        line += &format!("  idle p99 {idle:.1} µs, p99 ratio {ratio:.2}");
    }
    println!("{line}");
}

fn url<'a>(url: &'a Option<String>, backend: &str, variable: &str) -> Option<&'a str> {
    if url.is_none() {
        eprintln!("lucia-bench: skipping {backend}: no URL (--{backend}-url or {variable})");
    }
    url.as_deref()
}

async fn run_sql(
    backend: SqlBackend,
    name: &str,
    url: &str,
    peer: Option<peer::Driven>,
    args: &Args,
    emit: &mut dyn FnMut(Record),
) {
    let store = match Store::open(backend, url, args.pool, true).await {
        Ok(store) => store,
        Err(e) => return eprintln!("lucia-bench: skipping {name}: {e}"),
    };
    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(store.db.clone(), tables).expect("the default entities are valid");
    unless_stopped(scenarios::run_all(name, adapter, store.floors.clone(), peer, &args.settings, emit)).await;
    store.remove().await;
    exit_if_stopped();
}

/// `lucia-adapter-sqlite` over the SeaORM migration's tables (`user`, `key`, `session`), against
/// the rusqlite floor (the same join, prepared, on connections of its own) and, as for SeaORM,
/// sqlx alone.
async fn run_rusqlite(name: &str, peer: Option<peer::Driven>, args: &Args, emit: &mut dyn FnMut(Record)) {
    let store = match Store::open(SqlBackend::Sqlite, "", args.pool, true).await {
        Ok(store) => store,
        Err(e) => return eprintln!("lucia-bench: skipping {name}: {e}"),
    };
    let path = store.sqlite_path().expect("a SQLite store has a file").to_owned();
    let tables = lucia_adapter_sqlite::Tables::new("user", "key", "session");
    match lucia_adapter_sqlite::SqliteAdapter::builder().tables(tables).open(&path) {
        Ok(adapter) => {
            unless_stopped(scenarios::run_all(name, adapter, store.floors.clone(), peer, &args.settings, emit)).await
        }
        Err(e) => eprintln!("lucia-bench: skipping {name}: {e}"),
    }
    store.remove().await;
    exit_if_stopped();
}

/// Sessions in Redis, users and keys in PostgreSQL if it answers, else in SQLite.
async fn run_redis(redis_url: &str, args: &Args, emit: &mut dyn FnMut(Record)) {
    let prefix = match RedisPrefix::new(redis_url) {
        Ok(prefix) => prefix,
        Err(e) => return eprintln!("lucia-bench: skipping redis: {e}"),
    };
    let sessions = match RedisSessionAdapter::builder().key_prefix(prefix.prefix.clone()).connect(redis_url).await {
        Ok(sessions) => sessions,
        Err(e) => return eprintln!("lucia-bench: skipping redis: {e}"),
    };
    let mut users = None;
    if let Some(url) = &args.postgres_url {
        users = Store::open(SqlBackend::Postgres, url, args.pool, false).await.ok().map(|s| ("redis+postgres", s));
    }
    if users.is_none() {
        match Store::open(SqlBackend::Sqlite, "", args.pool, false).await {
            Ok(store) => users = Some(("redis+sqlite", store)),
            Err(e) => return eprintln!("lucia-bench: skipping redis: users store: {e}"),
        }
    }
    let (name, store) = users.expect("a users store");
    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable };
    let users: SeaOrmUserAdapter =
        SeaOrmAdapter::new(store.db.clone(), tables).expect("the default entities are valid");
    match Floor::redis(redis_url, &prefix.prefix, store.floors[0].clone()).await {
        Ok(floor) => {
            let adapter = SplitAdapter::new(users, sessions);
            unless_stopped(scenarios::run_all(name, adapter, vec![floor], None, &args.settings, emit)).await
        }
        Err(e) => eprintln!("lucia-bench: skipping redis: {e}"),
    }
    store.remove().await;
    prefix.remove().await;
    exit_if_stopped();
}

/// The lucia@2 peer's `validate_session` on `backend`, ready to take turns with lucia-rs's.
fn driven_peer(
    peer: Option<&peer::Peer>,
    backend: &str,
    postgres_url: Option<&str>,
    args: &Args,
) -> Option<peer::Driven> {
    peer.filter(|_| args.settings.wants("validate_session"))?.driven(backend, postgres_url, args.quick)
}

/// The lucia@2 peer's other scenarios on `backend`, its lines printed as lucia-bench's.
fn run_peer(peer: Option<&peer::Peer>, backend: &str, postgres_url: Option<&str>, args: &Args) {
    let Some(peer) = peer else { return };
    let peer_args = peer::PeerArgs {
        seconds: args.settings.seconds,
        rounds: args.settings.rounds,
        quick: args.quick,
        scenarios: args.settings.only.as_deref(),
    };
    peer.run(backend, postgres_url, &peer_args, &mut |line| {
        if args.json {
            println!("{line}");
        } else {
            println!("{}", peer::text_line(line));
        }
    });
}

#[tokio::main]
async fn main() {
    let given: Vec<String> = std::env::args().skip(1).collect();
    if given.first().is_some_and(|flag| flag == measure::RAW_HASHES_FLAG) {
        // On the runtime's thread, which does nothing else: the process is the raw floor's.
        if let Err(e) = scenarios::raw_hashes_process(&given[1..]) {
            eprintln!("lucia-bench: {e}");
            std::process::exit(2);
        }
        return;
    }
    let args = parse_args();
    listen_for_stop();
    let mut emit = |record: Record| print(args.json, &record);
    let wants_peer = args.backends.iter().any(|b| b == "sqlite" || (b == "postgres" && args.postgres_url.is_some()));
    let peer = if args.no_peer || !wants_peer { None } else { peer::Peer::find(args.peer_dir.as_deref()) };
    for backend in &args.backends {
        // A stop while the peer ran its own scenarios (which run to their end) comes here.
        exit_if_stopped();
        match backend.as_str() {
            "sqlite" => {
                let driven = driven_peer(peer.as_ref(), "sqlite", None, &args);
                run_rusqlite("sqlite", driven, &args, &mut emit).await;
                http::run(SqlBackend::Sqlite, "sqlite", "", &args.settings, &mut emit).await;
                run_peer(peer.as_ref(), "sqlite", None, &args);
            }
            "sqlite-sea-orm" => run_sql(SqlBackend::Sqlite, "sqlite-sea-orm", "", None, &args, &mut emit).await,
            "postgres" => {
                if let Some(url) = url(&args.postgres_url, "postgres", "LUCIA_TEST_POSTGRES_URL") {
                    let driven = driven_peer(peer.as_ref(), "postgres", Some(url), &args);
                    run_sql(SqlBackend::Postgres, "postgres", url, driven, &args, &mut emit).await;
                    http::run(SqlBackend::Postgres, "postgres", url, &args.settings, &mut emit).await;
                    run_peer(peer.as_ref(), "postgres", Some(url), &args);
                }
            }
            "mysql" => {
                if let Some(url) = url(&args.mysql_url, "mysql", "LUCIA_TEST_MYSQL_URL") {
                    run_sql(SqlBackend::MySql, "mysql", url, None, &args, &mut emit).await;
                }
            }
            "redis" => {
                if let Some(url) = url(&args.redis_url, "redis", "LUCIA_TEST_REDIS_URL") {
                    run_redis(url, &args, &mut emit).await;
                }
            }
            _ => unreachable!("checked in parse_args"),
        }
    }
}
