// The peer of lucia-bench: the same scenarios, measured the same way, with the real
// lucia@2.7.7 on Node.
//
// Usage: node bench.mjs --backend sqlite|postgres [--postgres-url URL] [--seconds S]
//          [--rounds N] [--quick] [--scenarios validate_session,use_key,...]
//        node bench.mjs --backend sqlite|postgres [--postgres-url URL] [--quick] --driven
//
// Prints one JSON line per measurement with lucia-bench's fields (scenario, backend,
// in_flight, ops_per_sec, p50_us, p99_us) and "peer": "lucia@2". Settings are lucia-bench's:
// 100 users and 1000 active sessions spread over them, 4 sign-ins in flight, a 0.5 s
// warm-up, then `--rounds` measurements of `--seconds` each whose medians are reported
// (`--quick`: 5 users, 20 sessions, 2 sign-ins, 0.05 s, 1 round). PostgreSQL runs in a schema
// of its own through `@lucia-auth/adapter-postgresql` on a `pg` Pool of 10 connections
// (lucia-bench's default pool size), dropped at the end; SQLite in a temporary file in WAL
// mode (synchronous FULL, foreign keys on) through `@lucia-auth/adapter-sqlite`'s
// better-sqlite3 driver, deleted at the end.
//
// `--driven`: `validate_session` one slice at a time, on command, so that lucia-bench can
// measure it in the same turns as lucia-rs and its floors (a drift of the machine's speed
// then weighs on both alike). Once its sessions are made it prints `{"ready": true,
// "runtime": ...}`; then, for each line `{"in_flight": N, "seconds": S}` on stdin, it runs
// that slice and prints `{"ops_per_sec": ..., "p50_us": ..., "p99_us": ...}`. At the end of
// stdin it removes its store and exits. `--seconds`, `--rounds` and `--scenarios` do not
// apply: the commands say how long, and lucia-bench decides how often.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";

import { lucia } from "lucia";
import { pg } from "@lucia-auth/adapter-postgresql";
import { betterSqlite3 } from "@lucia-auth/adapter-sqlite";
import postgres from "pg";
import Database from "better-sqlite3";

const PASSWORD = "correct horse battery staple";
const PEER = "lucia@2";
const POOL_SIZE = 10;
const IDLE_PERIOD = 1000 * 60 * 60 * 24 * 14;

function usage(problem) {
  console.error(`bench.mjs: ${problem}`);
  console.error(
    "usage: node bench.mjs --backend sqlite|postgres [--postgres-url URL] [--seconds S] [--rounds N] [--quick] [--scenarios A,B] [--driven]",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    backend: null,
    url: process.env.LUCIA_TEST_POSTGRES_URL || null,
    quick: false,
    only: null,
    driven: false,
  };
  let seconds = null;
  let rounds = null;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${flag} needs a value`);
      return argv[++i];
    };
    const number = (v) => {
      const n = Number(v);
      if (!(n > 0)) usage(`${flag} ${v}`);
      return n;
    };
    switch (flag) {
      case "--backend":
        args.backend = value();
        break;
      case "--postgres-url":
        args.url = value();
        break;
      case "--seconds":
        seconds = number(value());
        break;
      case "--rounds":
        rounds = Math.floor(number(value()));
        break;
      case "--quick":
        args.quick = true;
        break;
      case "--scenarios":
        args.only = value().split(",");
        break;
      case "--driven":
        args.driven = true;
        break;
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  if (args.backend !== "sqlite" && args.backend !== "postgres") usage("--backend sqlite or postgres");
  if (args.backend === "postgres" && !args.url) usage("postgres needs --postgres-url or LUCIA_TEST_POSTGRES_URL");
  args.settings = args.quick
    ? { seconds: 0.05, rounds: 1, warmUp: 0.01, users: 5, sessions: 20, signIns: 2 }
    : { seconds: 2, rounds: 3, warmUp: 0.5, users: 100, sessions: 1000, signIns: 4 };
  if (seconds !== null) args.settings.seconds = seconds;
  if (rounds !== null) args.settings.rounds = Math.max(1, rounds);
  return args;
}

// ---- measurement: a closed loop, as lucia-bench's measure.rs --------------------------

let next = 0;

function percentile(sorted, p) {
  const index = Math.max(Math.ceil(sorted.length * p) - 1, 0);
  return sorted.length ? sorted[index] : NaN;
}

/** Runs `op` from `inFlight` loops for `seconds`; throughput and latency percentiles (µs). */
async function run(op, inFlight, seconds) {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const latencies = [];
  const loop = async () => {
    for (;;) {
      const began = performance.now();
      if (began >= deadline) return;
      await op(next++);
      latencies.push((performance.now() - began) * 1000);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { ops_per_sec: latencies.length / elapsed, p50_us: percentile(sorted, 0.5), p99_us: percentile(sorted, 0.99) };
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

async function measure(scenario, backend, inFlight, op, settings) {
  await run(op, inFlight, settings.warmUp);
  const samples = [];
  for (let round = 0; round < settings.rounds; round++) samples.push(await run(op, inFlight, settings.seconds));
  const pick = (field) => median(samples.map((s) => s[field]));
  console.log(
    JSON.stringify({
      scenario,
      backend,
      in_flight: inFlight,
      ops_per_sec: pick("ops_per_sec"),
      p50_us: pick("p50_us"),
      p99_us: pick("p99_us"),
      peer: PEER,
      runtime: `node ${process.version}`,
    }),
  );
}

// ---- the store: Lucia v2's tables (no attribute columns, as lucia-bench's) -----------

const TABLES = { user: "user", key: "key", session: "session" };

async function openPostgres(url) {
  const schema = `lucia_bench_node_${randomBytes(6).toString("hex")}`;
  const admin = new postgres.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const remove = async () => {
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.end();
  };
  try {
    await admin.query(`
      CREATE TABLE "${schema}"."user" (id TEXT PRIMARY KEY);
      CREATE TABLE "${schema}"."key" (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES "${schema}"."user"(id),
        hashed_password TEXT
      );
      CREATE TABLE "${schema}"."session" (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES "${schema}"."user"(id),
        active_expires BIGINT NOT NULL,
        idle_expires BIGINT NOT NULL
      );
      CREATE INDEX ON "${schema}"."key" (user_id);
      CREATE INDEX ON "${schema}"."session" (user_id);`);
  } catch (e) {
    await remove();
    throw e;
  }
  const pool = new postgres.Pool({ connectionString: url, max: POOL_SIZE, options: `-c search_path=${schema}` });
  return {
    adapter: pg(pool, TABLES),
    close: async () => {
      await pool.end();
      await remove();
    },
  };
}

function openSqlite() {
  const path = join(tmpdir(), `lucia_bench_node_${randomBytes(6).toString("hex")}.db`);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  // better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL: no fsync per
  // commit); FULL is SQLite's default and what sqlx (lucia-rs's SQLite driver) runs with.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.exec(`
    CREATE TABLE user (id TEXT NOT NULL PRIMARY KEY);
    CREATE TABLE key (
      id TEXT NOT NULL PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES user(id),
      hashed_password TEXT
    );
    CREATE TABLE session (
      id TEXT NOT NULL PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES user(id),
      active_expires INTEGER NOT NULL,
      idle_expires INTEGER NOT NULL
    );
    CREATE INDEX key_user_id ON key (user_id);
    CREATE INDEX session_user_id ON session (user_id);`);
  return {
    adapter: betterSqlite3(db, TABLES),
    close: async () => {
      db.close();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
    },
  };
}

// ---- the scenarios, as lucia-bench's scenarios.rs -----------------------------------

function makeAuth(adapter, sessionExpiresIn) {
  return lucia({ env: "DEV", adapter, getUserAttributes: () => ({}), sessionExpiresIn });
}

async function makeUsers(auth, count) {
  const users = [];
  for (let i = 0; i < count; i++) users.push((await auth.createUser({ key: null, attributes: {} })).userId);
  return users;
}

async function makeSessions(auth, users, count) {
  const ids = [];
  for (let i = 0; i < count; i++) {
    ids.push((await auth.createSession({ userId: users[i % users.length], attributes: {} })).sessionId);
  }
  return ids;
}

/** `validate_session` on active sessions, made here. */
async function validator(auth, users, settings) {
  const ids = await makeSessions(auth, users, settings.sessions);
  return async (i) => {
    await auth.validateSession(ids[i % ids.length]);
  };
}

async function runAll(backend, adapter, settings, wants) {
  const auth = makeAuth(adapter);
  const users = await makeUsers(auth, settings.users);

  // (lucia-bench drives this one a slice at a time, `--driven`; here for runs on their own.)
  if (wants("validate_session")) {
    const validate = await validator(auth, users, settings);
    for (const inFlight of [1, 32]) await measure("validate_session", backend, inFlight, validate, settings);
  }

  // Every validation renews: no active period, so a session is idle from the next
  // millisecond on (lucia@2 renews idle sessions in place, `fresh: true`).
  if (wants("validate_session_renew")) {
    const renewing = makeAuth(adapter, { activePeriod: 0, idlePeriod: IDLE_PERIOD });
    const ids = await makeSessions(renewing, users, settings.sessions);
    let renewed = 0;
    const validate = async (i) => {
      const session = await renewing.validateSession(ids[i % ids.length]);
      if (session.fresh) renewed++;
    };
    await measure("validate_session_renew", backend, 1, validate, settings);
    if (renewed === 0) throw new Error("validate_session_renew renewed no session");
  }

  if (wants("create_session")) {
    const create = async (i) => {
      await auth.createSession({ userId: users[i % users.length], attributes: {} });
    };
    await measure("create_session", backend, 1, create, settings);
  }

  if (wants("create_user")) {
    const prefix = randomBytes(4).toString("hex");
    const create = async (i) => {
      await auth.createUser({
        key: { providerId: "email", providerUserId: `new-${prefix}-${i}@example.com`, password: PASSWORD },
        attributes: {},
      });
    };
    await measure("create_user", backend, settings.signIns, create, settings);
  }

  if (wants("use_key")) {
    const prefix = randomBytes(4).toString("hex");
    const emails = [];
    for (let i = 0; i < settings.signIns; i++) {
      const email = `user-${prefix}-${i}@example.com`;
      await auth.createUser({ key: { providerId: "email", providerUserId: email, password: PASSWORD }, attributes: {} });
      emails.push(email);
    }
    const signIn = async (i) => {
      await auth.useKey("email", emails[i % emails.length], PASSWORD);
    };
    await measure("use_key", backend, settings.signIns, signIn, settings);
  }
}

/** `--driven`: one `validate_session` slice per line of stdin, until its end. */
async function runDriven(adapter, settings) {
  const auth = makeAuth(adapter);
  const validate = await validator(auth, await makeUsers(auth, settings.users), settings);
  console.log(JSON.stringify({ ready: true, runtime: `node ${process.version}` }));
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const { in_flight: inFlight, seconds } = JSON.parse(line);
    if (!(Number.isInteger(inFlight) && inFlight > 0 && seconds > 0)) throw new Error(`bad command: ${line}`);
    console.log(JSON.stringify(await run(validate, inFlight, seconds)));
  }
}

// With lucia-bench gone (its end of the pipe closed), printing fails; the run still ends
// in `finally`, removing the store, rather than on an unhandled error.
process.stdout.on("error", () => {});

const args = parseArgs(process.argv.slice(2));
const wants = (scenario) => args.only === null || args.only.includes(scenario);
const store = args.backend === "postgres" ? await openPostgres(args.url) : openSqlite();
try {
  if (args.driven) await runDriven(store.adapter, args.settings);
  else await runAll(args.backend, store.adapter, args.settings, wants);
} finally {
  await store.close();
}
