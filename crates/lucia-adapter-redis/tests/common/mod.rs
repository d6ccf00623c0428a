//! Fixtures for the Redis adapter's tests: a fresh key prefix per test on the server named by
//! `LUCIA_TEST_REDIS_URL`, or on the cluster named by `LUCIA_TEST_REDIS_CLUSTER_URLS`
//! (comma-separated node URLs), with every key of the prefix deleted afterwards. Without
//! them the tests are skipped (and say so), unless `LUCIA_TEST_REQUIRE_SERVERS=1` (which
//! `.ci/run` sets) turns a missing URL into a failure.
//!
//! Raw access writes and reads the documented key layout with plain commands, written here
//! independently of the adapter, so the suite checks what the adapter really stores.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use lucia::{DatabaseKey, DatabaseSession, DatabaseUser};
use lucia_adapter_redis::RedisSessionAdapter;
use lucia_adapter_test::{Capabilities, Fixture, TestDatabase};
use redis::ConnectionLike;

/// Which Redis a fixture runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    Single,
    Cluster,
}

fn server_urls(deployment: Deployment) -> Option<Vec<String>> {
    let variable = match deployment {
        Deployment::Single => "LUCIA_TEST_REDIS_URL",
        Deployment::Cluster => "LUCIA_TEST_REDIS_CLUSTER_URLS",
    };
    match std::env::var(variable) {
        Ok(urls) if !urls.is_empty() => Some(urls.split(',').map(str::to_owned).collect()),
        _ if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => {
            panic!("{variable} is not set, and LUCIA_TEST_REQUIRE_SERVERS=1 forbids skipping")
        }
        _ => {
            eprintln!("SKIPPED: set {variable} to run this test against a real server");
            None
        }
    }
}

/// The URLs of a deployment's servers by the fixtures' rule: `None` (the test is skipped) if
/// the variable is unset, a panic instead if `LUCIA_TEST_REQUIRE_SERVERS=1`.
pub fn urls(deployment: Deployment) -> Option<Vec<String>> {
    server_urls(deployment)
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A key prefix no other test uses.
pub fn fresh_prefix() -> String {
    format!("lucia-test:{}", lucia::generate_random_string(12))
}

/// Plain commands on the same server or cluster, outside the adapter.
pub struct Raw {
    connection: Mutex<Box<dyn ConnectionLike + Send>>,
    pub prefix: String,
}

impl Raw {
    fn open(deployment: Deployment, urls: &[String], prefix: String) -> Self {
        let connection: Box<dyn ConnectionLike + Send> = match deployment {
            Deployment::Single => Box::new(redis::Client::open(urls[0].as_str()).unwrap().get_connection().unwrap()),
            Deployment::Cluster => {
                Box::new(redis::cluster::ClusterClient::new(urls.to_vec()).unwrap().get_connection().unwrap())
            }
        };
        Self { connection: Mutex::new(connection), prefix }
    }

    pub fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> T {
        command.query(&mut **self.connection.lock().unwrap()).unwrap()
    }

    /// Every key of this prefix matching `pattern` (appended to the prefix). `KEYS` goes to
    /// every primary of a cluster.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        self.query(redis::cmd("KEYS").arg(format!("{}{pattern}", self.prefix)))
    }

    /// Deletes every key of the prefix, one by one (a cluster refuses multi-slot `DEL`s).
    pub fn delete_all(&self) {
        for key in self.keys("*") {
            let _: u64 = self.query(redis::cmd("DEL").arg(key));
        }
    }

    pub fn session_key(&self, user_id: &str, session_id: &str) -> String {
        format!("{}:{{{}}}:s:{}", self.prefix, encode(user_id), encode(session_id))
    }

    pub fn index_key(&self, user_id: &str) -> String {
        format!("{}:{{{}}}:sessions", self.prefix, encode(user_id))
    }

    pub fn owner_key(&self, session_id: &str) -> String {
        format!("{}:sid:{}", self.prefix, encode(session_id))
    }
}

/// The documented encoding of ids in keys: `%`, `{`, `}`, control characters and every byte
/// outside ASCII become `%XX`.
pub fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'%' | b'{' | b'}' | 0..=0x1f | 0x7f.. => format!("%{b:02X}"),
            _ => char::from(b).to_string(),
        })
        .collect()
}

fn decode(part: &str) -> String {
    let bytes = part.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&part[i + 1..i + 3], 16).expect("an encoded byte"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("an encoded id")
}

impl TestDatabase for Raw {
    async fn users(&self) -> Vec<DatabaseUser> {
        unreachable!("a session store has no users")
    }
    async fn insert_user(&self, _: &DatabaseUser) {
        unreachable!("a session store has no users")
    }
    async fn keys(&self) -> Vec<DatabaseKey> {
        unreachable!("a session store has no keys")
    }
    async fn insert_key(&self, _: &DatabaseKey) {
        unreachable!("a session store has no keys")
    }

    async fn sessions(&self) -> Vec<DatabaseSession> {
        let mut sessions = Vec::new();
        for key in self.keys(":{*}:s:*") {
            let tail = &key[self.prefix.len() + 2..];
            let (user, session) = tail.split_once("}:s:").expect("a session key");
            let fields: HashMap<String, String> = self.query(redis::cmd("HGETALL").arg(&key));
            let mut row = DatabaseSession {
                id: decode(session),
                user_id: fields["user_id"].clone(),
                active_expires: fields["active_expires"].parse().unwrap(),
                idle_expires: fields["idle_expires"].parse().unwrap(),
                attributes: Default::default(),
            };
            assert_eq!(row.user_id, decode(user), "the key's user and the stored user_id differ");
            for (field, value) in fields {
                if let Some(name) = field.strip_prefix("a:") {
                    row.attributes.insert(name.to_owned(), serde_json::from_str(&value).unwrap());
                }
            }
            sessions.push(row);
        }
        // `KEYS` answers in no fixed order (on a cluster, node by node in any order): sort, as
        // a SQL store's reads by primary key would come.
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        sessions
    }

    /// The layout by hand: the owner pointer, the hash and the index entry, all expiring at
    /// the idle deadline (or in a minute for a session already dead).
    async fn insert_session(&self, session: &DatabaseSession) {
        let now = now_ms();
        let expires_at = if session.idle_expires > now { session.idle_expires } else { now + 60_000 };
        let owner = self.owner_key(&session.id);
        let _: () = self.query(redis::cmd("SET").arg(&owner).arg(&session.user_id).arg("PXAT").arg(expires_at));
        let key = self.session_key(&session.user_id, &session.id);
        let mut hset = redis::cmd("HSET");
        hset.arg(&key)
            .arg("user_id")
            .arg(&session.user_id)
            .arg("active_expires")
            .arg(session.active_expires)
            .arg("idle_expires")
            .arg(session.idle_expires);
        for (name, value) in &session.attributes {
            hset.arg(format!("a:{name}")).arg(value.to_string());
        }
        let _: u64 = self.query(&hset);
        let _: u64 = self.query(redis::cmd("PEXPIREAT").arg(&key).arg(expires_at));
        let index = self.index_key(&session.user_id);
        let _: u64 = self.query(redis::cmd("ZADD").arg(&index).arg(expires_at).arg(encode(&session.id)));
        let _: u64 = self.query(redis::cmd("PEXPIREAT").arg(&index).arg(expires_at).arg("GT"));
        let _: u64 = self.query(redis::cmd("PEXPIREAT").arg(&index).arg(expires_at).arg("NX"));
    }
}

/// A [`RedisSessionAdapter`] on a fresh prefix, and raw access to it.
pub struct RedisFixture {
    pub adapter: RedisSessionAdapter,
    pub raw: Raw,
    pub deployment: Deployment,
}

impl RedisFixture {
    pub async fn new(deployment: Deployment) -> Option<Self> {
        let urls = server_urls(deployment)?;
        let prefix = fresh_prefix();
        let builder = RedisSessionAdapter::builder().key_prefix(&prefix);
        let adapter = match deployment {
            Deployment::Single => builder.connect(&urls[0]).await,
            Deployment::Cluster => builder.connect_cluster(urls.iter().map(String::as_str)).await,
        }
        .expect("connect to Redis");
        let raw = Raw::open(deployment, &urls, prefix);
        Some(Self { adapter, raw, deployment })
    }
}

impl Fixture for RedisFixture {
    type Adapter = RedisSessionAdapter;
    type Database = Raw;

    fn adapter(&self) -> &RedisSessionAdapter {
        &self.adapter
    }

    fn database(&self) -> &Raw {
        &self.raw
    }

    /// No schema, no foreign keys, nothing unique but the session id.
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }

    async fn teardown(&self) {
        self.raw.delete_all();
    }
}
