//! Sessions: tokens at rest, handles, expiry and renewal, revocation, sweeps, cookies, and
//! failures of the store.

use std::time::{Duration, UNIX_EPOCH};

use lucia::{
    CreateSession, CreateUser, DatabaseSession, Env, Error, NewKey, SameSite, SessionCookieConfig, SessionExpiresIn,
    SessionHandle, SessionState, SessionTokens,
};
use lucia_adapter_test::TestDatabase;
use serde_json::json;

use super::{
    Ctx, DAY, Fixture, START, assert_err, attribute_map, is_live, new_session, new_user, new_user_with_password,
    stored_id, token, user, xx,
};

/// SHA-256 of "abc", from FIPS 180-2: an independent check of the hashed mode.
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn raw_session(id: &str, user_id: &str) -> DatabaseSession {
    DatabaseSession {
        id: id.into(),
        user_id: user_id.into(),
        active_expires: START + DAY,
        idle_expires: START + 15 * DAY,
        attributes: attribute_map(json!({ "country": "V2" })),
    }
}

/// Every text a session row holds.
fn row_texts(row: &DatabaseSession) -> Vec<String> {
    vec![row.id.clone(), row.user_id.clone(), serde_json::Value::Object(row.attributes.clone()).to_string()]
}

pub async fn hashed_mode_stores_the_sha256_of_the_token<F: Fixture>(t: &Ctx<F>) {
    assert_eq!(t.auth.config().session_tokens, SessionTokens::Hashed, "the default");
    let id = new_user(&t.auth, "h").await;
    let created = new_session(&t.auth, &id).await;
    let token = created.token.expose_secret();
    assert_eq!(token.len(), 40);
    assert!(token.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{token}");
    let rows = t.db().sessions().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, SessionTokens::Hashed.stored_id(token));
    assert_eq!(rows[0].id.len(), 64);
    assert!(rows[0].id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert!(row_texts(&rows[0]).iter().all(|text| !text.contains(token)), "the token is in no column");
    assert_eq!(t.auth.validate_session(token).await.unwrap().handle, created.session.handle);
    // The stored id does not authenticate: a leaked table yields no session.
    assert_err!(t.auth.validate_session(&rows[0].id).await, Error::InvalidSessionId);

    // A row holding SHA-256("abc") is the session of token "abc".
    t.db().insert_session(&raw_session(ABC_SHA256, &id)).await;
    assert_eq!(t.auth.validate_session("abc").await.unwrap().user.user_id, id);

    // The other mode does not find hashed sessions.
    let compat = t.builder(t.adapter()).session_tokens(SessionTokens::Plain).build();
    assert_err!(compat.validate_session(token).await, Error::InvalidSessionId);

    t.auth.invalidate_session(token).await.unwrap();
    assert_err!(t.auth.validate_session(token).await, Error::InvalidSessionId);
    t.auth.invalidate_session("abc").await.unwrap();
    assert_eq!(t.db().sessions().await, vec![]);
}

pub async fn compat_mode_stores_the_token<F: Fixture>(t: &Ctx<F>) {
    // Lucia v2 compatible: ids in clear and `s2:` scrypt hashes (the real hasher).
    let compat = t.builder(t.adapter()).lucia_v2_compat().build();
    assert_eq!(compat.config().session_tokens, SessionTokens::Plain);
    let key = NewKey::password("email", "v2@example.com", "hunter22");
    let id = compat.create_user(CreateUser::new(user("v2")).with_key(key)).await.unwrap().user_id;
    assert!(t.db().keys().await[0].hashed_password.as_deref().unwrap().starts_with("s2:"));
    let created = compat.sign_in("email", "v2@example.com", Some("hunter22"), xx()).await.unwrap();
    let rows = t.db().sessions().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, token(&created));
    assert_eq!(compat.validate_session(token(&created)).await.unwrap().handle, created.session.handle);
    let hashed = t.builder(t.adapter()).build();
    assert_err!(hashed.validate_session(token(&created)).await, Error::InvalidSessionId);

    // A session a Lucia v2 (or v1, mixed-case) application wrote.
    t.db().insert_session(&raw_session("Custom-Session_ID", &id)).await;
    let v2 = compat.validate_session("Custom-Session_ID").await.unwrap();
    assert_eq!((v2.user.user_id.as_str(), v2.attributes.country.as_str()), (id.as_str(), "V2"));
    assert_eq!(compat.get_all_user_sessions(&id).await.unwrap().len(), 2);
    compat.invalidate_session("Custom-Session_ID").await.unwrap();
    assert_err!(compat.validate_session("Custom-Session_ID").await, Error::InvalidSessionId);
    compat.invalidate_session(token(&created)).await.unwrap();
    assert_eq!(t.db().sessions().await, vec![]);
}

pub async fn debug_output_holds_no_credentials<F: Fixture>(t: &Ctx<F>) {
    for mode in [SessionTokens::Hashed, SessionTokens::Plain] {
        let auth = t.builder(t.adapter()).session_tokens(mode).build();
        let name = format!("debug{}", t.db().users().await.len());
        let password = format!("Pass-{name}-word");
        let id = new_user_with_password(&auth, &name, &password).await;
        let created = auth.sign_in("email", &format!("{name}@example.com"), Some(&password), xx()).await.unwrap();
        let cookie = auth.create_session_cookie(&created.token, &created.session);
        assert!(cookie.to_string().contains(token(&created)), "the cookie carries the token");
        let key_row = t.db().keys().await.into_iter().find(|k| k.user_id == id).unwrap();
        let session_row = t.sessions_of(&id).await.remove(0);
        let hash = key_row.hashed_password.clone().unwrap();
        let listed = auth.get_all_user_sessions(&id).await.unwrap();
        let validated = auth.validate_session(token(&created)).await.unwrap();
        let new_key = NewKey::password("email", "x@example.com", password.clone());
        let printed = [
            format!("{created:?}"),
            format!("{:?}", created.session),
            format!("{:?}", created.token),
            format!("{cookie:?}"),
            format!("{key_row:?}"),
            format!("{session_row:?}"),
            format!("{new_key:?}"),
            format!("{listed:?}"),
            format!("{validated:?}"),
            format!("{:?}", CreateUser::new(user("u")).with_key(new_key.clone())),
            format!("{auth:?}"),
        ];
        let secrets = [token(&created), session_row.id.as_str(), password.as_str(), hash.as_str()];
        for text in &printed {
            for secret in secrets {
                assert!(!text.contains(secret), "{mode:?}: {text} shows {secret}");
            }
        }
    }
}

pub async fn sign_in_starts_a_live_session<F: Fixture>(t: &Ctx<F>) {
    let id = new_user_with_password(&t.auth, "s", "pw").await;
    t.auth.create_key(&id, NewKey::passwordless("github", "5")).await.unwrap();
    let created = t.auth.sign_in("email", "s@example.com", Some("pw"), xx()).await.unwrap();
    assert!(created.session.fresh);
    assert_eq!(created.session.state, SessionState::Active);
    assert_eq!(created.session.attributes, xx());
    assert_eq!(created.session.user.attributes, user("s"));
    let rows = t.db().sessions().await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id.clone(), rows[0].user_id.clone()), (stored_id(&created), id.clone()));
    assert_eq!((rows[0].active_expires, rows[0].idle_expires), (START + DAY, START + 15 * DAY));
    assert_eq!(rows[0].attributes["country"], "XX");
    assert_eq!(t.auth.validate_session(token(&created)).await.unwrap().handle, created.session.handle);

    let oauth = t.auth.sign_in("github", "5", None, xx()).await.unwrap();
    assert_eq!(oauth.session.user.user_id, id);
    assert_err!(t.auth.sign_in("email", "s@example.com", Some("wrong"), xx()).await, Error::InvalidPassword);
    assert_err!(t.auth.sign_in("email", "s@example.com", None, xx()).await, Error::InvalidPassword);
    assert_err!(t.auth.sign_in("email", "nobody@example.com", Some("pw"), xx()).await, Error::InvalidKeyId);
    assert_err!(t.auth.sign_in("email", "nobody@example.com", None, xx()).await, Error::InvalidKeyId);
    assert_eq!(t.db().sessions().await.len(), 2, "failed sign-ins leave no placeholder");
}

pub async fn create_session_sets_lucia_expiries<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "s").await;
    let created = new_session(&t.auth, &id).await;
    let session = &created.session;
    assert!(session.fresh);
    assert_eq!(session.state, SessionState::Active);
    assert_eq!(session.attributes, xx());
    assert_eq!(session.user.user_id, id);
    let row = &t.db().sessions().await[0];
    assert_eq!((row.active_expires, row.idle_expires), (START + DAY, START + 15 * DAY));
    assert_eq!(session.active_period_expires_at, UNIX_EPOCH + Duration::from_millis((START + DAY) as u64));
    assert_eq!(session.idle_period_expires_at, UNIX_EPOCH + Duration::from_millis((START + 15 * DAY) as u64));
    let other = new_session(&t.auth, &id).await;
    assert_ne!(token(&other), token(&created));
    assert_ne!(other.session.handle, created.session.handle);
    let defaults: CreateSession<lucia::AttributeMap> = CreateSession::for_user(id.clone());
    assert_eq!(defaults.user_id, id);
}

pub async fn create_session_for_unknown_user_writes_nothing<F: Fixture>(t: &Ctx<F>) {
    assert_err!(t.auth.create_session(CreateSession::new("nobody", xx())).await, Error::InvalidUserId);
    assert_eq!(t.db().sessions().await, vec![]);
}

pub async fn validate_active_session_does_not_write<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "a").await;
    let created = new_session(&t.auth, &id).await;
    let before = t.db().sessions().await;
    t.set_now(START + DAY / 2);
    let validated = t.auth.validate_session(token(&created)).await.unwrap();
    assert!(!validated.fresh);
    assert_eq!(validated.state, SessionState::Active);
    assert_eq!(validated.attributes, xx());
    assert_eq!(validated.user.attributes, user("a"));
    assert_eq!(t.db().sessions().await, before);
}

pub async fn validate_idle_session_renews_it_as_active<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "i").await;
    let created = new_session(&t.auth, &id).await;
    let later = START + 3 * DAY;
    t.set_now(later);
    let renewed = t.auth.validate_session(token(&created)).await.unwrap();
    assert!(renewed.fresh);
    assert_eq!(renewed.state, SessionState::Active, "Lucia v2 said idle here; fixed");
    assert_eq!(renewed.handle, created.session.handle, "the token is not rotated");
    let row = &t.db().sessions().await[0];
    assert_eq!(row.id, stored_id(&created));
    assert_eq!((row.active_expires, row.idle_expires), (later + DAY, later + 15 * DAY));
    assert_eq!(row.attributes["country"], "XX");
    assert!(!t.auth.validate_session(token(&created)).await.unwrap().fresh);
}

pub async fn expiry_boundaries_are_inclusive<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "b").await;
    let created = new_session(&t.auth, &id).await;
    t.set_now(START + DAY);
    assert_eq!(t.auth.get_session(token(&created)).await.unwrap().state, SessionState::Active);
    t.set_now(START + DAY + 1);
    assert_eq!(t.auth.get_session(token(&created)).await.unwrap().state, SessionState::Idle);
    t.set_now(START + 15 * DAY);
    assert_eq!(t.auth.get_session(token(&created)).await.unwrap().state, SessionState::Idle);
    t.set_now(START + 15 * DAY + 1);
    assert_err!(t.auth.get_session(token(&created)).await, Error::InvalidSessionId);
    assert_err!(t.auth.validate_session(token(&created)).await, Error::InvalidSessionId);
}

pub async fn dead_sessions_are_rejected_and_kept<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "d").await;
    let created = new_session(&t.auth, &id).await;
    t.set_now(START + 16 * DAY);
    assert_err!(t.auth.validate_session(token(&created)).await, Error::InvalidSessionId);
    assert_eq!(t.db().sessions().await.len(), 1, "Lucia v2 leaves dead rows for the sweeps");
}

pub async fn get_session_does_not_renew<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "g").await;
    let created = new_session(&t.auth, &id).await;
    let before = t.db().sessions().await;
    t.set_now(START + 2 * DAY);
    let read = t.auth.get_session(token(&created)).await.unwrap();
    assert_eq!((read.state, read.fresh), (SessionState::Idle, false));
    assert_eq!(t.db().sessions().await, before);
}

pub async fn get_all_user_sessions_lists_live_sessions_by_handle<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "all").await;
    let old = new_session(&t.auth, &id).await;
    t.set_now(START + 10 * DAY);
    let newer = new_session(&t.auth, &id).await;
    let both = t.auth.get_all_user_sessions(&id).await.unwrap();
    let mut handles: Vec<_> = both.iter().map(|s| s.handle.clone()).collect();
    handles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut expected = vec![old.session.handle.clone(), newer.session.handle.clone()];
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(handles, expected);
    // A handle names a session but is neither its token nor its stored id, and round-trips.
    for created in [&old, &newer] {
        let handle = created.session.handle.as_str();
        assert_eq!(handle.len(), 32);
        assert_ne!(handle, token(created));
        assert!(!stored_id(created).contains(handle) && !token(created).contains(handle));
        assert_eq!(handle.parse::<SessionHandle>().unwrap(), created.session.handle);
        let json = serde_json::to_string(&created.session.handle).unwrap();
        assert_eq!(json, format!("\"{handle}\""), "a handle is a JSON string");
        assert_eq!(serde_json::from_str::<SessionHandle>(&json).unwrap(), created.session.handle);
        let listed = format!("{both:?}");
        assert!(!listed.contains(token(created)) && !listed.contains(&stored_id(created)), "{listed}");
        assert_err!(t.auth.validate_session(handle).await, Error::InvalidSessionId);
    }

    t.set_now(START + 16 * DAY);
    let live = t.auth.get_all_user_sessions(&id).await.unwrap();
    assert_eq!(live.iter().map(|s| s.handle.clone()).collect::<Vec<_>>(), vec![newer.session.handle.clone()]);
    assert_eq!((live[0].state, live[0].fresh), (SessionState::Idle, false));
    assert_eq!(t.db().sessions().await.len(), 2, "listing deletes nothing");
    assert_err!(t.auth.get_all_user_sessions("nobody").await, Error::InvalidUserId);
    assert_eq!(t.auth.get_all_user_sessions(&new_user(&t.auth, "none").await).await.unwrap(), vec![]);
}

pub async fn invalidate_user_session_only_for_the_owner<F: Fixture>(t: &Ctx<F>) {
    let (a, b) = (new_user(&t.auth, "a").await, new_user(&t.auth, "b").await);
    let (a1, a2, b1) = (new_session(&t.auth, &a).await, new_session(&t.auth, &a).await, new_session(&t.auth, &b).await);
    let rows = t.db().sessions().await;

    assert!(!t.auth.invalidate_user_session(&a, &b1.session.handle).await.unwrap(), "not a's session");
    assert_eq!(t.db().sessions().await, rows, "nothing deleted");
    t.auth.validate_session(token(&b1)).await.unwrap();

    let unknown: SessionHandle = "0123456789abcdef0123456789abcdef".parse().unwrap();
    assert!(serde_json::from_str::<SessionHandle>(&format!("\"{}\"", token(&a1))).is_err(), "a token is no handle");
    assert!(!t.auth.invalidate_user_session(&a, &unknown).await.unwrap());
    assert!(!t.auth.invalidate_user_session("nobody", &a1.session.handle).await.unwrap());
    assert!(!t.auth.invalidate_user_session("a\0", &a1.session.handle).await.unwrap());
    assert_eq!(t.db().sessions().await, rows);

    assert!(t.auth.invalidate_user_session(&a, &a1.session.handle).await.unwrap());
    assert_err!(t.auth.validate_session(token(&a1)).await, Error::InvalidSessionId);
    t.auth.validate_session(token(&a2)).await.unwrap();
    assert!(!t.auth.invalidate_user_session(&a, &a1.session.handle).await.unwrap(), "already gone");
    let left: Vec<String> = t.db().sessions().await.into_iter().map(|s| s.id).collect();
    let mut expected = vec![stored_id(&a2), stored_id(&b1)];
    expected.sort();
    let mut left_sorted = left.clone();
    left_sorted.sort();
    assert_eq!(left_sorted, expected);

    // Dead sessions can be revoked by handle too (they are still rows).
    t.set_now(START + 16 * DAY);
    assert!(t.auth.invalidate_user_session(&b, &b1.session.handle).await.unwrap());
}

pub async fn update_session_attributes_partial_and_dead<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "u").await;
    let created = new_session(&t.auth, &id).await;
    let updated = t.auth.update_session_attributes(token(&created), &json!({ "country": "YY" })).await.unwrap();
    assert_eq!(updated.attributes.country, "YY");
    assert_eq!(t.db().sessions().await[0].attributes["country"], "YY");
    let same = t.auth.update_session_attributes(token(&created), &json!({})).await.unwrap();
    assert_eq!(same.attributes.country, "YY");
    assert_err!(
        t.auth.update_session_attributes(token(&created), &json!({ "idle_expires": 0 })).await,
        Error::InvalidAttributes(_)
    );
    assert_err!(t.auth.update_session_attributes("nope", &json!({ "country": "ZZ" })).await, Error::InvalidSessionId);
    assert_err!(t.auth.update_session_attributes("", &json!({ "country": "ZZ" })).await, Error::InvalidSessionId);
    t.set_now(START + 16 * DAY);
    assert_err!(t.auth.update_session_attributes(token(&created), &json!({})).await, Error::InvalidSessionId);
    assert_eq!(t.db().sessions().await.len(), 1);
}

/// A dead session is not a session: changing its attributes is `InvalidSessionId` and
/// leaves the row as it was (as for an unknown token).
pub async fn update_session_attributes_of_a_dead_session_writes_nothing<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "dead").await;
    let created = new_session(&t.auth, &id).await;
    t.set_now(START + 16 * DAY);
    let rows = t.db().sessions().await;
    assert_err!(
        t.auth.update_session_attributes(token(&created), &json!({ "country": "ZZ" })).await,
        Error::InvalidSessionId
    );
    assert_eq!(t.db().sessions().await, rows, "the dead session's row is unchanged");
}

pub async fn invalidate_sessions<F: Fixture>(t: &Ctx<F>) {
    let (a, b) = (new_user(&t.auth, "a").await, new_user(&t.auth, "b").await);
    let (a1, _a2, b1) =
        (new_session(&t.auth, &a).await, new_session(&t.auth, &a).await, new_session(&t.auth, &b).await);
    t.auth.invalidate_session(token(&a1)).await.unwrap();
    t.auth.invalidate_session(token(&a1)).await.unwrap();
    t.auth.invalidate_session("").await.unwrap();
    assert_err!(t.auth.validate_session(token(&a1)).await, Error::InvalidSessionId);
    assert_eq!(t.db().sessions().await.len(), 2);
    t.auth.invalidate_all_user_sessions(&a).await.unwrap();
    t.auth.invalidate_all_user_sessions("nobody").await.unwrap();
    assert_eq!(t.db().sessions().await.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![stored_id(&b1)]);
}

pub async fn sweeps_keep_sessions_dead_for_less_than_a_minute<F: Fixture>(t: &Ctx<F>) {
    let (a, b) = (new_user(&t.auth, "a").await, new_user(&t.auth, "b").await);
    let a_old = new_session(&t.auth, &a).await;
    new_session(&t.auth, &b).await;
    t.set_now(START + 10 * DAY);
    let live = new_session(&t.auth, &a).await;
    let dead_at = START + 15 * DAY; // the first sessions' idle_expires

    // Dead, but for less than the 60 s grace: kept.
    t.set_now(dead_at + 60_000);
    t.auth.delete_dead_user_sessions(&a).await.unwrap();
    assert_eq!(t.auth.delete_dead_sessions().await.unwrap(), 0);
    assert_eq!(t.db().sessions().await.len(), 3);

    // Gone as soon as the call returns (Lucia v2 returned before its deletes ran).
    t.set_now(dead_at + 60_001);
    t.auth.delete_dead_user_sessions(&a).await.unwrap();
    let ids: Vec<String> = t.db().sessions().await.into_iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&stored_id(&a_old)));
    assert_eq!(t.auth.delete_dead_sessions().await.unwrap(), 1);
    assert_eq!(t.db().sessions().await.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![stored_id(&live)]);
    t.auth.delete_dead_user_sessions("nobody").await.unwrap();
}

pub async fn bad_tokens_are_rejected_before_the_database<F: Fixture>(t: &Ctx<F>) {
    let probe = t.probe();
    let auth = t.builder(probe.clone()).build();
    probe.fail_all();
    let long = "x".repeat(lucia::MAX_SESSION_TOKEN_LENGTH + 1);
    for bad in ["", long.as_str(), "\u{0}", "a\0b"] {
        assert_err!(auth.validate_session(bad).await, Error::InvalidSessionId);
        assert_err!(auth.get_session(bad).await, Error::InvalidSessionId);
        assert_err!(auth.update_session_attributes(bad, &json!({ "country": "Z" })).await, Error::InvalidSessionId);
    }
    // Odd but storable tokens reach the store and are simply unknown.
    probe.heal();
    for odd in ["*", "'; DROP TABLE user_session; --", "ü", " "] {
        assert_err!(auth.validate_session(odd).await, Error::InvalidSessionId);
    }
}

pub async fn session_cookies<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "c").await;
    let created = new_session(&t.auth, &id).await;
    let expires = "Fri, 11 Dec 2026 01:04:36 GMT"; // START + 15 days, as `Date.toUTCString` prints it
    let cookie = t.auth.create_session_cookie(&created.token, &created.session);
    assert_eq!(
        cookie.to_string(),
        format!("auth_session={}; HttpOnly; SameSite=Lax; Path=/; Expires={expires}", token(&created))
    );
    assert_eq!(cookie.name(), "auth_session");
    assert!(!cookie.is_removal());
    assert_eq!(cookie.clone().into_cookie().value(), token(&created));
    let blank = t.auth.create_blank_session_cookie();
    assert!(blank.is_removal());
    let text = blank.to_string();
    assert!(text.starts_with("auth_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires="), "{text}");

    let prod = t
        .builder(t.adapter())
        .env(Env::Prod)
        .session_cookie(SessionCookieConfig {
            name: "sid".into(),
            domain: Some("example.com".into()),
            expires: false,
            ..SessionCookieConfig::default()
        })
        .build();
    let year_later = "Fri, 26 Nov 2027 01:04:36 GMT"; // START + 365 days
    assert_eq!(
        prod.create_session_cookie(&created.token, &created.session).to_string(),
        format!(
            "sid={}; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.com; Expires={year_later}",
            token(&created)
        )
    );
    assert!(prod.create_blank_session_cookie().to_string().contains("; Secure"));
    let strict = t
        .builder(t.adapter())
        .session_cookie(SessionCookieConfig {
            same_site: SameSite::Strict,
            path: None,
            ..SessionCookieConfig::default()
        })
        .build();
    let text = strict.create_session_cookie(&created.token, &created.session).to_string();
    assert_eq!(text, format!("auth_session={}; HttpOnly; SameSite=Strict; Expires={expires}", token(&created)));
    // SameSite=None is always Secure, also in development.
    let none = t
        .builder(t.adapter())
        .session_cookie(SessionCookieConfig { same_site: SameSite::None, ..SessionCookieConfig::default() })
        .build();
    let text = none.create_session_cookie(&created.token, &created.session).to_string();
    assert!(text.contains("; SameSite=None; Secure"), "{text}");

    assert_eq!(prod.read_session_cookie("auth_session=a; sid=b").as_deref(), Some("b"));
    assert_eq!(t.auth.read_session_cookie("sid=b"), None);
    let header = format!("theme=dark; auth_session={}", token(&created));
    let read = t.auth.read_session_cookie(&header).unwrap();
    assert_eq!(t.auth.validate_session(&read).await.unwrap().handle, created.session.handle);
}

pub async fn custom_session_periods<F: Fixture>(t: &Ctx<F>) {
    let periods = SessionExpiresIn { active_period: Duration::from_secs(60), idle_period: Duration::from_secs(120) };
    let auth = t.builder(t.adapter()).session_expires_in(periods).build();
    let id = new_user(&auth, "p").await;
    let created = new_session(&auth, &id).await;
    let row = &t.db().sessions().await[0];
    assert_eq!((row.active_expires, row.idle_expires), (START + 60_000, START + 180_000));
    t.set_now(START + 61_000);
    assert!(auth.validate_session(token(&created)).await.unwrap().fresh);
    t.set_now(START + 61_000 + 180_001);
    assert_err!(auth.validate_session(token(&created)).await, Error::InvalidSessionId);
}

pub async fn store_failures_are_database_errors<F: Fixture>(t: &Ctx<F>) {
    let id = new_user_with_password(&t.auth, "f", "pw").await;
    let created = new_session(&t.auth, &id).await;
    let (users, keys, sessions) = (t.db().users().await, t.db().keys().await, t.db().sessions().await);
    let probe = t.probe();
    let auth = t.builder(probe.clone()).build();
    probe.fail_all();
    let token = token(&created);
    let handle = &created.session.handle;
    assert_err!(auth.get_user(&id).await, Error::Database(_));
    assert_err!(auth.create_user(CreateUser::new(user("z"))).await, Error::Database(_));
    assert_err!(auth.update_user_attributes(&id, &json!({ "username": "y" })).await, Error::Database(_));
    assert_err!(auth.delete_user(&id).await, Error::Database(_));
    assert_err!(auth.use_key("email", "f@example.com", Some("pw")).await, Error::Database(_));
    assert_err!(auth.sign_in("email", "f@example.com", Some("pw"), xx()).await, Error::Database(_));
    assert_err!(auth.get_key("email", "f@example.com").await, Error::Database(_));
    assert_err!(auth.get_all_user_keys(&id).await, Error::Database(_));
    assert_err!(auth.create_key(&id, NewKey::passwordless("github", "1")).await, Error::Database(_));
    assert_err!(auth.update_key_password("email", "f@example.com", Some("x")).await, Error::Database(_));
    assert_err!(auth.change_password("email", "f@example.com", "x").await, Error::Database(_));
    assert_err!(auth.delete_key("email", "f@example.com").await, Error::Database(_));
    assert_err!(auth.create_session(CreateSession::new(id.clone(), xx())).await, Error::Database(_));
    assert_err!(auth.validate_session(token).await, Error::Database(_));
    assert_err!(auth.get_session(token).await, Error::Database(_));
    assert_err!(auth.get_all_user_sessions(&id).await, Error::Database(_));
    assert_err!(auth.update_session_attributes(token, &json!({ "country": "Z" })).await, Error::Database(_));
    assert_err!(auth.invalidate_session(token).await, Error::Database(_));
    assert_err!(auth.invalidate_user_session(&id, handle).await, Error::Database(_));
    assert_err!(auth.invalidate_all_user_sessions(&id).await, Error::Database(_));
    assert_err!(auth.delete_dead_user_sessions(&id).await, Error::Database(_));
    assert_err!(auth.delete_dead_sessions().await, Error::Database(_));
    assert_eq!((t.db().users().await, t.db().keys().await, t.db().sessions().await), (users, keys, sessions));
    // The error tells the application what failed without the store's own text leaking into
    // the variants meant for clients.
    probe.heal();
    auth.validate_session(token).await.unwrap();
}

pub async fn sign_in_removes_its_placeholder_when_the_store_fails<F: Fixture>(t: &Ctx<F>) {
    new_user_with_password(&t.auth, "p", "pw").await;
    let probe = t.probe();
    let auth = t.builder(probe.clone()).build();
    for method in ["update_session", "get_session_and_user"] {
        probe.heal();
        probe.fail(method);
        assert_err!(auth.sign_in("email", "p@example.com", Some("pw"), xx()).await, Error::Database(_));
        assert_eq!(t.db().sessions().await, vec![], "failing {method}: the placeholder is removed");
    }
    // The key re-read fails after the placeholder is written.
    probe.heal();
    let failer = probe.clone();
    probe.before_call(2, move || async move { failer.fail("get_key") });
    assert_err!(auth.sign_in("email", "p@example.com", Some("pw"), xx()).await, Error::Database(_));
    assert_eq!(t.db().sessions().await, vec![]);
    probe.heal();
    probe.clear_hook();
    let created = auth.sign_in("email", "p@example.com", Some("pw"), xx()).await.unwrap();
    assert!(t.db().sessions().await.iter().all(|row| is_live(row, t.now())));
    auth.validate_session(token(&created)).await.unwrap();
}
