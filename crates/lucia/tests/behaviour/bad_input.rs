//! The bad input matrix: every entry point that takes an id, token or attributes from outside,
//! called with malformed variants of real values (empty, 10 KB, NUL, look-alikes, padding,
//! SQL, wildcards) and attributes of the wrong type. Each call must give its typed error (or
//! the documented no-op), write nothing (the rows are compared before and after), and leave
//! no secret (password, stored hash, session token, reset link, code) in any error's
//! `Display`/`Debug` or in what `tracing` records meanwhile at TRACE for every target.

use std::fmt::Debug;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use lucia::{
    AttributeMap, CreateSession, CreateUser, DatabaseKey, DatabaseSession, DatabaseToken, DatabaseUser, EmailSettings,
    Error, Lucia, NewKey, SessionHandle, SessionTokens, TokenAdapter, TokenKind,
};
use lucia_adapter_test::TestDatabase;
use serde_json::{Value, json};
use tracing::instrument::WithSubscriber;

use super::{Ctx, Fixture, token, user, xx};

/// Malformed variants of `real` (an id, address, token or code the store holds) that a client
/// could send instead; none equal to `real`.
fn variants(real: &str) -> Vec<(&'static str, String)> {
    let fullwidth: String = real
        .chars()
        .map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect();
    let cyrillic: String = real
        .chars()
        .map(|c| match c {
            'a' => 'а',
            'e' => 'е',
            'o' => 'о',
            c => c,
        })
        .collect();
    let all = vec![
        ("empty", String::new()),
        ("10 KB", real.repeat(10_240 / real.len().max(1) + 1)),
        ("NUL inside", format!("{}\0{}", &real[..1], &real[1..])),
        ("NUL alone", "\0".to_owned()),
        ("path", format!("../{real}")),
        ("percent-encoded NUL", format!("{real}%00")),
        ("fullwidth look-alike", fullwidth),
        ("Cyrillic look-alike", format!("{cyrillic}\u{0430}")),
        ("upper case", real.to_uppercase()),
        ("leading space", format!(" {real}")),
        ("trailing space", format!("{real} ")),
        ("trailing newline", format!("{real}\n")),
        ("tab inside", format!("{}\t{}", &real[..1], &real[1..])),
        ("SQL quote", format!("{real}' OR '1'='1")),
        ("SQL drop", "'; DROP TABLE test_user; --".to_owned()),
        ("LIKE wildcard", "%".to_owned()),
        ("glob", "*".to_owned()),
    ];
    all.into_iter().filter(|(_, value)| value != real).collect()
}

/// What a call did, without the value it returned (whose `Debug` is kept for the report).
#[derive(Debug)]
pub enum Done {
    /// A documented no-op: `Ok(())`, `Ok(false)`, `Ok(None)`.
    Nothing,
    /// The call succeeded with this value.
    Something(String),
}

type Outcome = Result<Done, Error>;
type Call<'a> = Box<dyn Fn(String) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> + Send + Sync + 'a>;

/// One entry point called with each bad input, and the outcome it must have.
pub struct Entry<'a> {
    name: &'static str,
    want: &'static str,
    accepts: fn(&Outcome) -> bool,
    call: Call<'a>,
}

/// `entry!("name", pattern, |input| async call returning Outcome)`.
macro_rules! entry {
    ($name:expr, $want:pat, |$input:ident| $call:expr) => {
        Entry {
            name: $name,
            want: stringify!($want),
            accepts: |outcome| matches!(outcome, $want),
            call: Box::new(move |$input: String| Box::pin(async move { $call })),
        }
    };
}

fn value<T: Debug>(result: Result<T, Error>) -> Outcome {
    result.map(|value| Done::Something(format!("{value:?}")))
}

fn no_op(result: Result<bool, Error>) -> Outcome {
    result.map(|did| if did { Done::Something("did something".into()) } else { Done::Nothing })
}

/// Runs every entry with every input; returns the texts of the errors (`Display` and `Debug`)
/// and fails listing every call whose outcome was wrong.
async fn run_matrix(entries: &[Entry<'_>], inputs: &[(&'static str, String)]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut printed = Vec::new();
    for entry in entries {
        for (label, input) in inputs {
            let outcome = (entry.call)(input.clone()).await;
            if !(entry.accepts)(&outcome) {
                failures.push(format!("{} with {label} input: expected {}, got {outcome:?}", entry.name, entry.want));
            }
            if let Err(error) = &outcome {
                printed.push(format!("{error} / {error:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} wrong outcomes:\n{}", failures.len(), failures.join("\n"));
    printed
}

/// What the store holds, in a stable order.
#[derive(Debug, PartialEq)]
struct Rows {
    users: Vec<DatabaseUser>,
    keys: Vec<DatabaseKey>,
    sessions: Vec<DatabaseSession>,
    tokens: Vec<Option<DatabaseToken>>,
}

async fn rows<F: Fixture>(t: &Ctx<F>) -> Rows {
    let mut users = t.db().users().await;
    users.sort_by(|a, b| a.id.cmp(&b.id));
    let mut keys = t.db().keys().await;
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    let mut sessions = t.db().sessions().await;
    sessions.sort_by(|a, b| a.id.cmp(&b.id));
    Rows { users, keys, sessions, tokens: Vec::new() }
}

/// [`rows`] and the fixture users' tokens of both kinds.
async fn rows_and_tokens<F>(t: &Ctx<F>, user_ids: &[&str]) -> Rows
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let mut rows = rows(t).await;
    for user_id in user_ids {
        for kind in [TokenKind::EmailVerification, TokenKind::PasswordReset] {
            rows.tokens.push(t.adapter().get_user_token(user_id, kind).await.unwrap());
        }
    }
    rows
}

/// Everything `tracing` records at every level from every target while a future runs with
/// [`subscriber`](Self::subscriber) (`WithSubscriber` makes it the default on whichever
/// thread polls the future).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let logs = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .finish()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fails if any secret appears in any of the texts.
pub fn assert_no_secret(texts: &[(&str, String)], secrets: &[(&str, String)]) {
    for (what, text) in texts {
        for (name, secret) in secrets {
            assert!(!secret.is_empty(), "the secret {name} is empty");
            assert!(!text.contains(secret.as_str()), "{what} shows the {name}:\n{text}");
        }
    }
}

/// Runs a case with its logs captured, then checks that the logs (and the texts the case
/// returns) hold none of the secrets it returns. The case logs a marker first, so a capture
/// that records nothing fails.
async fn with_logs_checked<Fut>(case: Fut)
where
    Fut: Future<Output = (Vec<String>, Vec<(&'static str, String)>)>,
{
    let logs = CapturedLogs::default();
    let marked = async {
        tracing::trace!(target: "lucia_bad_input", "bad input matrix starts");
        case.await
    };
    let (printed, secrets) = marked.with_subscriber(logs.subscriber()).await;
    let text = logs.text();
    assert!(text.contains("bad input matrix starts"), "the capture records nothing: {text}");
    let mut texts = vec![("the logs", text)];
    texts.extend(printed.into_iter().map(|text| ("an error", text)));
    assert_no_secret(&texts, &secrets);
}

const PASSWORD: &str = "Bad-input-Pa55word";

/// Every entry point taking a user id, key id, session token or handle, with malformed
/// variants of real ones; and attributes of the wrong type. Typed errors or documented no-ops,
/// nothing written, no secret shown.
pub async fn bad_input_is_a_typed_error_and_writes_nothing<F: Fixture>(t: &Ctx<F>) {
    with_logs_checked(async {
        let auth = &t.auth;
        // Session ids in clear too: there the token itself is what the store compares.
        let plain = &t.builder(t.adapter()).session_tokens(SessionTokens::Plain).build();
        let email = "ada@example.com";
        let created = auth
            .create_user(CreateUser::new(user("ada")).with_key(NewKey::password("email", email, PASSWORD)))
            .await
            .unwrap();
        let ada = created.user_id.as_str();
        auth.create_key(ada, NewKey::passwordless("github", "ada")).await.unwrap();
        let session = auth.sign_in("email", email, Some(PASSWORD), xx()).await.unwrap();
        let plain_session = plain.sign_in("email", email, Some(PASSWORD), xx()).await.unwrap();
        let handle = &session.session.handle;
        let before = rows(t).await;
        let hash = before.keys.iter().find_map(|key| key.hashed_password.clone()).unwrap();

        let by_user_id = [
            entry!("get_user", Err(Error::InvalidUserId), |id| value(auth.get_user(&id).await)),
            entry!("get_all_user_keys", Err(Error::InvalidUserId), |id| value(auth.get_all_user_keys(&id).await)),
            entry!("get_all_user_sessions", Err(Error::InvalidUserId), |id| value(
                auth.get_all_user_sessions(&id).await
            )),
            entry!("update_user_attributes", Err(Error::InvalidUserId), |id| value(
                auth.update_user_attributes(&id, &json!({ "username": "mallory" })).await
            )),
            entry!("create_key", Err(Error::InvalidUserId), |id| value(
                auth.create_key(&id, NewKey::passwordless("github", "mallory")).await
            )),
            entry!("create_session", Err(Error::InvalidUserId), |id| value(
                auth.create_session(CreateSession::new(id, xx())).await
            )),
            entry!("invalidate_user_session", Ok(Done::Nothing), |id| no_op(
                auth.invalidate_user_session(&id, handle).await
            )),
            entry!("delete_user", Ok(Done::Nothing), |id| no_op(auth.delete_user(&id).await.map(|()| false))),
            entry!("invalidate_all_user_sessions", Ok(Done::Nothing), |id| no_op(
                auth.invalidate_all_user_sessions(&id).await.map(|()| false)
            )),
            entry!("delete_dead_user_sessions", Ok(Done::Nothing), |id| no_op(
                auth.delete_dead_user_sessions(&id).await.map(|()| false)
            )),
        ];
        let mut printed = run_matrix(&by_user_id, &variants(ada)).await;

        // Each key is tried at most twice with a password (use_key, sign_in): under the
        // sign-in throttle's free attempts, so every answer is the key's own.
        let by_provider_user_id = [
            entry!("use_key", Err(Error::InvalidKeyId), |id| value(auth.use_key("email", &id, Some(PASSWORD)).await)),
            entry!("sign_in", Err(Error::InvalidKeyId), |id| value(
                auth.sign_in("email", &id, Some(PASSWORD), xx()).await
            )),
            entry!("get_key", Err(Error::InvalidKeyId), |id| value(auth.get_key("email", &id).await)),
            entry!("update_key_password", Err(Error::InvalidKeyId), |id| value(
                auth.update_key_password("email", &id, Some("new")).await
            )),
            entry!("change_password", Err(Error::InvalidKeyId), |id| value(
                auth.change_password("email", &id, "new").await
            )),
            // An unknown key is no error; an id no key can have (NUL) is `InvalidKeyId`.
            entry!("delete_key", Ok(Done::Nothing) | Err(Error::InvalidKeyId), |id| no_op(
                auth.delete_key("email", &id).await.map(|()| false)
            )),
        ];
        printed.extend(run_matrix(&by_provider_user_id, &variants(email)).await);
        let by_provider_id = [
            entry!("use_key (provider id)", Err(Error::InvalidKeyId), |provider| value(
                auth.use_key(&provider, email, Some(PASSWORD)).await
            )),
            entry!("sign_in (provider id)", Err(Error::InvalidKeyId), |provider| value(
                auth.sign_in(&provider, email, None, xx()).await
            )),
            entry!("get_key (provider id)", Err(Error::InvalidKeyId), |provider| value(
                auth.get_key(&provider, email).await
            )),
        ];
        printed.extend(run_matrix(&by_provider_id, &variants("email")).await);

        for (lucia, real) in [(auth, token(&session)), (plain, token(&plain_session))] {
            let by_session_token = [
                entry!("validate_session", Err(Error::InvalidSessionId), |token| value(
                    lucia.validate_session(&token).await
                )),
                entry!("get_session", Err(Error::InvalidSessionId), |token| value(lucia.get_session(&token).await)),
                entry!("update_session_attributes", Err(Error::InvalidSessionId), |token| value(
                    lucia.update_session_attributes(&token, &json!({ "country": "ZZ" })).await
                )),
                entry!("invalidate_session", Ok(Done::Nothing), |token| no_op(
                    lucia.invalidate_session(&token).await.map(|()| false)
                )),
            ];
            printed.extend(run_matrix(&by_session_token, &variants(real)).await);
        }
        for (label, text) in variants(handle.as_str()) {
            assert!(text.parse::<SessionHandle>().is_err(), "a {label} handle parses");
        }

        printed.extend(wrong_attribute_types(t, ada, token(&session)).await);
        assert_eq!(rows(t).await, before, "a refused call wrote");
        // The public types that hold a secret show none in `Debug` (rows: hash and ids).
        let cookie = auth.create_session_cookie(&session.token, &session.session);
        let new_key = NewKey::password("email", "x@example.com", PASSWORD);
        printed.extend([
            format!("{session:?}"),
            format!("{plain_session:?}"),
            format!("{cookie:?}"),
            format!("{new_key:?}"),
            format!("{:?}", CreateUser::new(user("x")).with_key(new_key.clone())),
            format!("{before:?}"),
            format!("{auth:?} {plain:?}"),
        ]);
        let stored = [&before.sessions[0].id, &before.sessions[1].id].map(|id| id.to_string());
        let secrets = vec![
            ("password", PASSWORD.to_owned()),
            ("password hash", hash),
            ("session token", token(&session).to_owned()),
            ("clear session token", token(&plain_session).to_owned()),
            ("stored session id", stored[0].clone()),
            ("stored session id", stored[1].clone()),
        ];
        (printed, secrets)
    })
    .await;
}

/// Attributes that are not a map, name a column Lucia owns, or (on stores with a schema) do
/// not fit the column: [`Error::InvalidAttributes`] from every method that takes them.
async fn wrong_attribute_types<F: Fixture>(t: &Ctx<F>, user_id: &str, token: &str) -> Vec<String> {
    let auth: Lucia<F::Adapter, AttributeMap, AttributeMap> =
        t.builder(t.adapter()).user_attributes::<AttributeMap>().session_attributes::<AttributeMap>().build();
    let auth = &auth;
    let mut user_values = vec![json!(5), json!("x"), json!(null), json!(["username"]), json!({ "id": "x" })];
    let mut session_values =
        vec![json!(5), json!([]), json!({ "id": "x" }), json!({ "user_id": "x" }), json!({ "idle_expires": 1 })];
    if t.fixture.has_schema() {
        user_values.extend([
            json!({ "username": 5 }),
            json!({ "username": null }),
            json!({ "username": true }),
            json!({ "username": { "nested": 1 } }),
            json!({ "username": "ok", "age": "old" }),
            json!({ "username": "ok", "admin": "yes" }),
            json!({ "username": "ok", "nope": 1 }),
        ]);
        session_values.extend([
            json!({ "country": 5 }),
            json!({ "country": null }),
            json!({ "country": ["X"] }),
            json!({ "country": "X", "nope": 1 }),
        ]);
    }
    let map = |text: &str| serde_json::from_str::<AttributeMap>(text).unwrap();
    let user_entries = [
        entry!("update_user_attributes (attributes)", Err(Error::InvalidAttributes(_)), |text| value(
            auth.update_user_attributes(user_id, &serde_json::from_str::<Value>(&text).unwrap()).await
        )),
        entry!("create_user (attributes)", Err(Error::InvalidAttributes(_)), |text| value(
            auth.create_user(CreateUser::new(map(&text))).await
        )),
    ];
    let session_entries = [
        entry!("update_session_attributes (attributes)", Err(Error::InvalidAttributes(_)), |text| value(
            auth.update_session_attributes(token, &serde_json::from_str::<Value>(&text).unwrap()).await
        )),
        entry!("create_session (attributes)", Err(Error::InvalidAttributes(_)), |text| value(
            auth.create_session(CreateSession::new(user_id, map(&text))).await
        )),
    ];
    // Every value through `update_*`; the maps also through `create_*` (an `AttributeMap`).
    let labelled = |values: &[Value], maps_only: bool| -> Vec<(&'static str, String)> {
        let values = values.iter().filter(|value| !maps_only || value.is_object());
        values.map(|value| ("wrong-type", value.to_string())).collect()
    };
    let mut printed = run_matrix(&user_entries[..1], &labelled(&user_values, false)).await;
    printed.extend(run_matrix(&user_entries[1..], &labelled(&user_values, true)).await);
    printed.extend(run_matrix(&session_entries[..1], &labelled(&session_values, false)).await);
    printed.extend(run_matrix(&session_entries[1..], &labelled(&session_values, true)).await);
    printed
}

/// Email verification and password reset with malformed codes, links, user ids and
/// addresses: typed errors or documented no-ops, no code or link spent or written, no secret
/// shown.
pub async fn bad_token_input_is_a_typed_error_and_writes_nothing<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    with_logs_checked(async {
        let auth = &t.builder(t.adapter()).email(EmailSettings::default().attributes("email", "admin")).build();
        let email = "ada@example.com";
        let created = auth
            .create_user(CreateUser::new(user("ada")).with_key(NewKey::password("email", email, PASSWORD)))
            .await
            .unwrap();
        let ada = created.user_id.as_str();
        auth.update_user_attributes(ada, &json!({ "email": email, "admin": false })).await.unwrap();
        let issued = auth.issue_email_verification(ada).await.unwrap();
        let code = issued.code();
        let reset = auth.request_password_reset(email).await.unwrap().issue().await.unwrap().unwrap();
        let before = rows_and_tokens(t, &[ada]).await;
        let hash = before.keys[0].hashed_password.clone().unwrap();

        let by_user_id = [
            entry!("issue_email_verification", Err(Error::InvalidUserId), |id| value(
                auth.issue_email_verification(&id).await
            )),
            // No code is outstanding for an unknown user; NUL is no user id at all.
            entry!("verify_email (user id)", Err(Error::InvalidToken | Error::InvalidUserId), |id| value(
                auth.verify_email(&id, code).await
            )),
            entry!("change_email", Err(Error::InvalidUserId), |id| value(
                auth.change_email(&id, "mallory@example.com").await
            )),
        ];
        let mut printed = run_matrix(&by_user_id, &variants(ada)).await;
        let by_secret = [
            entry!("verify_email (code)", Err(Error::InvalidToken), |code| value(auth.verify_email(ada, &code).await)),
            entry!("reset_password", Err(Error::InvalidToken), |link| value(
                auth.reset_password(&link, "new-password").await
            )),
        ];
        printed.extend(run_matrix(&by_secret, &variants(code)).await);
        printed.extend(run_matrix(&by_secret[1..], &variants(reset.token())).await);
        // A reset for an address with no account answers like one with an account, and writes
        // nothing; an address no key can have (NUL) is refused.
        let by_address =
            [entry!("request_password_reset", Ok(Done::Nothing) | Err(Error::InvalidKeyId), |address| match auth
                .request_password_reset(&address)
                .await
            {
                Ok(request) => request.issue().await.map(|issued| match issued {
                    Some(reset) => Done::Something(format!("{reset:?}")),
                    None => Done::Nothing,
                }),
                Err(error) => Err(error),
            })];
        printed.extend(run_matrix(&by_address, &variants(email)).await);

        assert_eq!(rows_and_tokens(t, &[ada]).await, before, "a refused call wrote");
        let request = auth.request_password_reset("nobody@example.com").await.unwrap();
        printed.extend([
            format!("{issued:?}"),
            format!("{reset:?}"),
            format!("{request:?}"),
            format!("{before:?}"),
            format!("{auth:?}"),
        ]);
        let secrets = vec![
            ("password", PASSWORD.to_owned()),
            ("password hash", hash),
            ("verification code", code.to_owned()),
            ("reset token", reset.token().to_owned()),
        ];
        (printed, secrets)
    })
    .await;
}
