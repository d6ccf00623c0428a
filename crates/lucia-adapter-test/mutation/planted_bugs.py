#!/usr/bin/env python3
"""Plants bugs by hand in the adapters and checks that the conformance suite catches each one.

cargo-mutants (see run-cargo-mutants.sh) only makes mechanical mutants (a body replaced by a
default, an operator swapped); the bugs below are the ones adapter authors actually write:
updates that skip the unique check or replace instead of merging, lookups that hide dead
sessions, a join that invents a user, case-insensitive ids, stringified numbers, a check and
an insert that are not atomic, sweeps that miscount, SQL errors left unclassified, a
transaction that commits half a sign-up.

Each bug is one textual replacement in one source file. The script copies the workspace (as
it is on disk, without target/ and .git/) to a scratch directory, builds there with its own
target directory (kept between runs), and for each bug: restores the file, applies the
replacement, runs the suite, and reports CAUGHT (the suite failed, with the failing cases) or
MISSED. A replacement whose text is no longer in the file is reported STALE, a bug that does
not compile BROKEN (both mean the list needs updating). The unmodified copy must pass first.

Usage (from anywhere in the workspace):
    crates/lucia-adapter-test/mutation/planted_bugs.py [memory] [sea-orm] [redis] [--only NAME]

`sea-orm` runs `cargo test -p lucia-adapter-sea-orm --test conformance`: set
LUCIA_TEST_POSTGRES_URL and LUCIA_TEST_MYSQL_URL to include PostgreSQL and MariaDB.
`redis` runs the Redis adapter's conformance and store tests: set LUCIA_TEST_REDIS_URL and
LUCIA_TEST_REDIS_CLUSTER_URLS (`.ci/redis-cluster start` prints them).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRATCH = Path(os.environ.get("LUCIA_PLANTED_DIR", "/tmp/lucia-planted-bugs"))
NOW_MS = "(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))"

MEMORY = "crates/lucia/src/memory.rs"
SEA_ORM = "crates/lucia-adapter-sea-orm/src/adapter.rs"
REDIS = "crates/lucia-adapter-redis/src/lib.rs"
REDIS_SCRIPTS = "crates/lucia-adapter-redis/src/scripts.rs"
REDIS_CONNECTION = "crates/lucia-adapter-redis/src/connection.rs"

# (name, file, old text, new text), or (name, file, [(old, new), ...], None) for a bug that
# needs several edits: each old text must occur exactly once.
BUGS = {
    "memory": [
        (
            "update_user skips the unique check",
            MEMORY,
            """        if let Some(column) = self.taken_attribute(&store, user_id, &attributes) {
            return Err(AdapterError::DuplicateAttribute { column: Some(column) });
        }
        if let Some(user) = store.users.get_mut(user_id) {""",
            """        if let Some(user) = store.users.get_mut(user_id) {""",
        ),
        (
            "update_user replaces the row instead of merging",
            MEMORY,
            "            user.extend(attributes);",
            "            if !attributes.is_empty() { *user = attributes; }",
        ),
        (
            "update_session replaces the attributes instead of merging",
            MEMORY,
            "            session.attributes.extend(update.attributes);",
            "            if !update.attributes.is_empty() { session.attributes = update.attributes; }",
        ),
        (
            "get_session hides dead sessions",
            MEMORY,
            "Ok(self.lock().sessions.get(session_id).cloned())",
            f"Ok(self.lock().sessions.get(session_id).filter(|s| s.idle_expires >= {NOW_MS}).cloned())",
        ),
        (
            "get_sessions_by_user_id hides dead sessions",
            MEMORY,
            ".filter(|session| session.user_id == user_id).cloned().collect())",
            f".filter(|session| session.user_id == user_id && session.idle_expires >= {NOW_MS}).cloned().collect())",
        ),
        (
            "get_session_and_user invents an empty user for a session whose user is gone",
            MEMORY,
            "let Some(attributes) = store.users.get(&session.user_id) else { return Ok(None) };",
            "let empty = AttributeMap::new(); let attributes = store.users.get(&session.user_id).unwrap_or(&empty);",
        ),
        (
            "user ids compare case-insensitively on insert",
            MEMORY,
            "        if store.users.contains_key(&user.id) {",
            "        if store.users.keys().any(|id| id.eq_ignore_ascii_case(&user.id)) {",
        ),
        (
            "get_sessions_by_user_id matches user ids case-insensitively",
            MEMORY,
            ".filter(|session| session.user_id == user_id).cloned().collect())",
            ".filter(|session| session.user_id.eq_ignore_ascii_case(user_id)).cloned().collect())",
        ),
        (
            "set_user stores numbers and booleans as strings",
            MEMORY,
            "        store.users.insert(user.id, user.attributes);",
            """        let attributes = user.attributes.into_iter().map(|(k, v)| match v {
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => (k, serde_json::Value::String(v.to_string())),
            v => (k, v),
        }).collect();
        store.users.insert(user.id, attributes);""",
        ),
        (
            "nulls in unique columns clash",
            MEMORY,
            "let value = attributes.get(column).filter(|value| !value.is_null())?;",
            "let value = attributes.get(column)?;",
        ),
        (
            "set_user checks, then inserts in a second step (not atomic)",
            MEMORY,
            [
                (
                    """        let mut store = self.lock();
        if store.users.contains_key(&user.id) {""",
                    """        {
        let store = self.lock();
        if store.users.contains_key(&user.id) {""",
                ),
                (
                    "        store.users.insert(user.id, user.attributes);",
                    """        }
        tokio::task::yield_now().await;
        let mut store = self.lock();
        store.users.insert(user.id, user.attributes);""",
                ),
            ],
            None,
        ),
        (
            "update_user checks, then updates in a second step (not atomic)",
            MEMORY,
            [
                (
                    """        let mut store = self.lock();
        if !store.users.contains_key(user_id) {""",
                    """        {
        let store = self.lock();
        if !store.users.contains_key(user_id) {""",
                ),
                (
                    """        if let Some(user) = store.users.get_mut(user_id) {
            user.extend(attributes);""",
                    """        }
        tokio::task::yield_now().await;
        let mut store = self.lock();
        if let Some(user) = store.users.get_mut(user_id) {
            user.extend(attributes);""",
                ),
            ],
            None,
        ),
        (
            "set_key accepts keys of unknown users (orphan keys)",
            MEMORY,
            """        self.check_user(&store, &key.user_id)?;
        store.keys.insert(key.id.clone(), key);""",
            """        store.keys.insert(key.id.clone(), key);""",
        ),
        (
            "set_session overwrites a taken id",
            MEMORY,
            """        if store.sessions.contains_key(&session.id) {
            return Err(AdapterError::DuplicateSessionId);
        }""",
            "",
        ),
        (
            "delete_dead_sessions returns how many it kept",
            MEMORY,
            "Ok((before - store.sessions.len()) as u64)",
            "let _ = before; Ok(store.sessions.len() as u64)",
        ),
        (
            "delete_dead_sessions deletes the boundary",
            MEMORY,
            "store.sessions.retain(|_, session| session.idle_expires >= now_ms);",
            "store.sessions.retain(|_, session| session.idle_expires > now_ms);",
        ),
        (
            "delete_dead_sessions_by_user_id sweeps every user",
            MEMORY,
            "session.user_id != user_id || session.idle_expires >= now_ms",
            "session.idle_expires >= now_ms",
        ),
        (
            "delete_user_cascade deletes every session",
            MEMORY,
            """        delete_sessions_of(&mut store, user_id);
        store.keys.retain(""",
            """        store.sessions.clear();
        store.keys.retain(""",
        ),
        (
            "update_key_and_end_sessions keeps the sessions",
            MEMORY,
            """        delete_sessions_of(&mut store, user_id);
        Ok(())""",
            "        Ok(())",
        ),
        (
            "replace_key_password ignores the current hash",
            MEMORY,
            "Some(key) if key.hashed_password.as_deref() == Some(current) => {",
            "Some(key) => {",
        ),
        (
            "delete_user leaves orphan keys behind",
            MEMORY,
            "let referenced = store.keys.values().any(|key| key.user_id == user_id)\n            ||",
            "let referenced =",
        ),
    ],
    "sea-orm": [
        (
            "update_user leaves unique violations unclassified (Database error)",
            SEA_ORM,
            "Err(error) => Err(self.write_failure(table, id, error, None, attributes).await),",
            "Err(error) => Err(database(error)),",
        ),
        (
            "a unique attribute clash on insert is reported as a duplicate id",
            SEA_ORM,
            "(Ok(true), Some(duplicate_id)) => Ok(duplicate_id),",
            "(_, Some(duplicate_id)) => Ok(duplicate_id),",
        ),
        (
            "foreign key violations are Database errors, not InvalidUserId",
            SEA_ORM,
            "Some(SqlErr::ForeignKeyConstraintViolation(_)) => Ok(AdapterError::InvalidUserId),",
            "",
        ),
        (
            "a failed transaction is committed instead of rolled back",
            SEA_ORM,
            """                let _ = transaction.rollback().await;
                return Err((Some(index), error));""",
            """                let _ = transaction.commit().await;
                return Err((Some(index), error));""",
        ),
        (
            "set_user inserts the user and its key without a transaction",
            SEA_ORM,
            """        match self.in_transaction(&statements).await {
            Ok(()) => Ok(()),
            Err((Some(0), e)) => Err(user_failure(e).await),""",
            """        let separately = async {
            for (index, statement) in statements.iter().enumerate() {
                self.db.execute_raw(statement.clone()).await.map_err(|e| (Some(index), e))?;
            }
            Ok(())
        };
        match separately.await {
            Ok(()) => Ok(()),
            Err((Some(0), e)) => Err(user_failure(e).await),""",
        ),
        (
            "the sweeps delete the boundary (<= instead of <)",
            SEA_ORM,
            "Ok(Expr::col(alias(\"idle_expires\")).lt(millis(",
            "Ok(Expr::col(alias(\"idle_expires\")).lte(millis(",
        ),
        (
            "replace_key_password is not a compare-and-set",
            SEA_ORM,
            """        query.and_where(Expr::col(alias("hashed_password")).eq(current));""",
            "        let _ = current;",
        ),
        (
            "update_key_and_end_sessions deletes the sessions of the wrong id",
            SEA_ORM,
            """            self.backend().build(&self.user_tables().key_password_update(key_id, hashed_password)),
            self.delete_statement(self.session(), "user_id", user_id),""",
            """            self.backend().build(&self.user_tables().key_password_update(key_id, hashed_password)),
            self.delete_statement(self.session(), "user_id", key_id),""",
        ),
        (
            "delete_user_cascade forgets the sessions",
            SEA_ORM,
            """        statements.push(self.delete_statement(self.session(), "user_id", user_id));
        statements.push(self.delete_statement(&users.key, "user_id", user_id));""",
            """        statements.push(self.delete_statement(&users.key, "user_id", user_id));""",
        ),
        (
            "update_user ignores attributes that name no column",
            SEA_ORM,
            """        let values = encode_attributes(user, &attributes, USER_COLUMNS)?;""",
            """        let known: AttributeMap = attributes.iter().filter(|(k, _)| user.column(k).is_some()).map(|(k, v)| (k.clone(), v.clone())).collect();
        let values = encode_attributes(user, &known, USER_COLUMNS)?;""",
        ),
        (
            "get_sessions_by_user_id hides dead sessions",
            SEA_ORM,
            """        self.fetch_all(&select_where(table, "user_id", user_id), |row| session_from_row(table, row, "")).await""",
            f"""        let mut query = select_where(table, "user_id", user_id);
        query.and_where(Expr::col(alias("idle_expires")).gte({NOW_MS}));
        self.fetch_all(&query, |row| session_from_row(table, row, "")).await""",
        ),
    ],
    "redis": [
        (
            "session keys expire after a relative time, not at the deadline (Lucia v2's bug)",
            REDIS_SCRIPTS,
            """redis.call('PEXPIREAT', KEYS[1], at)
redis.call('ZADD', KEYS[2], at, ARGV[1])
refresh_index(KEYS[2], now)
return 1
\"
    ))
});

/// KEYS: owner pointer. ARGV: new idle deadline""",
            """redis.call('PEXPIRE', KEYS[1], at)
redis.call('ZADD', KEYS[2], at, ARGV[1])
refresh_index(KEYS[2], now)
return 1
\"
    ))
});

/// KEYS: owner pointer. ARGV: new idle deadline""",
        ),
        (
            "a session written dead vanishes at once (a sign-in's placeholder is lost)",
            REDIS_SCRIPTS,
            "  if tonumber(idle) > now then return idle end",
            "  if true then return idle end",
        ),
        (
            "deleting a session leaves its id in the user's index",
            REDIS_SCRIPTS,
            """local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])""",
            """local deleted = redis.call('DEL', KEYS[1])""",
        ),
        (
            "the index never drops expired ids",
            REDIS_SCRIPTS,
            """local function refresh_index(index, now)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', string.format('(%d', now))""",
            """local function refresh_index(index, now)""",
        ),
        (
            "the sweep deletes the boundary (<= instead of <)",
            REDIS_SCRIPTS,
            "  elseif tonumber(idle) < cutoff then",
            "  elseif tonumber(idle) <= cutoff then",
        ),
        (
            "listing a user's sessions hides dead ones",
            REDIS_SCRIPTS,
            """  if #fields == 0 then
    redis.call('ZREM', KEYS[1], id)""",
            """  if #fields == 0 or tonumber(redis.call('HGET', ARGV[1] .. id, 'idle_expires')) < now then
    redis.call('ZREM', KEYS[1], id)""",
        ),
        (
            "a session id is claimed without NX (duplicates overwrite the owner)",
            REDIS_SCRIPTS,
            "local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT',",
            "local ok = redis.call('SET', KEYS[1], ARGV[1], 'PXAT',",
        ),
        (
            "signing out everywhere leaves the session id pointers",
            REDIS,
            """        let deleted: Vec<String> = self.run(&delete).await?;
        self.delete_owners(&deleted).await""",
            """        let _deleted: Vec<String> = self.run(&delete).await?;
        Ok(())""",
        ),
        (
            "keys without a hash tag (a user's keys spread over slots)",
            "crates/lucia-adapter-redis/src/keys.rs",
            """        format!("{}:{{{}}}:sessions", self.prefix, encode(user_id))""",
            """        format!("{}:{}:sessions", self.prefix, encode(user_id))""",
        ),
        (
            "ids are not escaped in keys",
            "crates/lucia-adapter-redis/src/keys.rs",
            "const ESCAPED: &AsciiSet = &CONTROLS.add(b'%').add(b'{').add(b'}');",
            "const ESCAPED: &AsciiSet = &CONTROLS;",
        ),
        (
            "an outage is a Database error, not Unavailable",
            REDIS_CONNECTION,
            "    if outage { AdapterError::unavailable(error) } else { AdapterError::database(error) }",
            "    let _ = outage;\n    AdapterError::database(error)",
        ),
        (
            "updates of a renewed session leave the pointer's expiry behind",
            REDIS,
            """            Some((_, idle)) => {
                let mut owner = scripts::OWNER_FOR_RENEWAL.key(self.keys.session_owner(session_id));
                owner.arg(idle).arg(DEAD_SESSION_GRACE_MS);
                self.run(&owner).await?
            }""",
            """            Some(_) => self.owner(session_id).await?,""",
        ),
    ],
}

COMMANDS = {
    "memory": ["cargo", "test", "-p", "lucia", "--test", "memory_conformance"],
    "sea-orm": ["cargo", "test", "-p", "lucia-adapter-sea-orm", "--test", "conformance"],
    # The conformance suite (single server and cluster) and the adapter's own store tests.
    "redis": ["cargo", "test", "-p", "lucia-adapter-redis", "--test", "conformance", "--test", "redis_store"],
}


def copy_workspace() -> Path:
    work = SCRATCH / "work"
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["rsync", "-a", "--delete", "--exclude=/target", "--exclude=.git", "--exclude=node_modules",
         "--exclude=mutants.out*", f"{ROOT}/", f"{work}/"],
        check=True,
    )
    # rsync keeps the source's modification times; a file a previous run planted a bug in may
    # have an older time than the build made from the bug, so cargo would not rebuild it.
    for group in BUGS.values():
        for _, file, _, _ in group:
            (work / file).touch()
    return work


def run(work: Path, command: list[str]) -> tuple[bool, list[str], float]:
    env = dict(os.environ, CARGO_TARGET_DIR=str(SCRATCH / "target"), CARGO_TERM_COLOR="never")
    started = time.monotonic()
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    failed = re.findall(r"^test (\S+) \.\.\. FAILED$", output, re.MULTILINE)
    if result.returncode != 0 and not failed:
        errors = re.findall(r"^error(?:\[E\d+\])?: .*$", output, re.MULTILINE)
        failed = ["BUILD: " + (errors[0] if errors else output.strip()[-200:])]
    return result.returncode == 0, failed, time.monotonic() - started


def main() -> int:
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        only = args[args.index("--only") + 1]
        del args[args.index("--only") : args.index("--only") + 2]
    groups = args or ["memory", "sea-orm", "redis"]
    work = copy_workspace()
    missed = stale = broken = 0
    for group in groups:
        print(f"== {group}: {' '.join(COMMANDS[group])}", flush=True)
        ok, failed, seconds = run(work, COMMANDS[group])
        if not ok:
            print(f"baseline FAILED ({seconds:.0f}s): {failed}")
            return 2
        print(f"baseline passes ({seconds:.0f}s)", flush=True)
        for name, file, old, new in BUGS[group]:
            if only and only not in name:
                continue
            path = work / file
            original = (ROOT / file).read_text()
            edits = old if new is None else [(old, new)]
            counts = [original.count(before) for before, _ in edits]
            if counts != [1] * len(edits):
                print(f"STALE   {name} (text found {counts} times in {file})", flush=True)
                stale += 1
                continue
            planted = original
            for before, after in edits:
                planted = planted.replace(before, after)
            path.write_text(planted)
            try:
                ok, failed, seconds = run(work, COMMANDS[group])
            finally:
                path.write_text(original)
            if ok:
                missed += 1
                print(f"MISSED  {name} ({seconds:.0f}s)", flush=True)
            elif failed and failed[0].startswith("BUILD: "):
                broken += 1
                print(f"BROKEN  {name}: the planted bug does not build: {failed[0]}", flush=True)
            else:
                shown = ", ".join(failed[:4]) + (f", ... ({len(failed)} cases)" if len(failed) > 4 else "")
                print(f"CAUGHT  {name} ({seconds:.0f}s): {shown}", flush=True)
    print(f"missed: {missed}, stale: {stale}, broken: {broken}")
    return 1 if missed or stale or broken else 0


if __name__ == "__main__":
    sys.exit(main())
