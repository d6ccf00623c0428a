//! The passkey routes (feature `passkey`) over HTTP, with lucia-passkey's software
//! authenticator (`crates/lucia-passkey/tests/common`, shared by path): a signed-in user
//! registers a passkey, lists it, signs in with it alone (a new session cookie), cannot
//! replay the sign-in, and removes it; the CSRF check guards the routes. Registering and removing need a
//! recent sign-in; a sign-in refused before verification leaves its ceremony; starting a
//! sign-in counts against the per-address budget; a credential id too long to store is a 400.

#[path = "../../lucia-passkey/tests/common/mod.rs"]
mod flows;

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use flows::{Device, TestClock};
use lucia::memory::MemoryAdapter;
use lucia::{CreateUser, Lucia, NewKey, NoAttributes, PasskeyAdapter};
use lucia_axum::passkey::PasskeyRoutes;
use lucia_axum::{LuciaLayer, Quota};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, COOKIE, ORIGIN, RETRY_AFTER, SET_COOKIE};
use serde_json::{Value, json};

/// Every password sign-in of these tests records when it happened, as an application would.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct SessionAttributes {
    signed_in_at: Option<i64>,
}

type Auth = Lucia<MemoryAdapter, NoAttributes, SessionAttributes>;

const PASSWORD: &str = "correct horse battery staple";

/// A store whose clock the test moves.
fn auth(clock: &TestClock) -> Auth {
    let clock = clock.clone();
    Lucia::builder(MemoryAdapter::new()).session_attributes::<SessionAttributes>().clock(move || clock.now()).build()
}

/// The routes as an application sets them up: the sign-in time from the session's attributes.
fn routes(auth: &Auth) -> PasskeyRoutes<Auth> {
    PasskeyRoutes::<Auth>::new(
        flows::passkeys(auth.clone()),
        |user| (user.user_id.clone(), "Ada".into()),
        |session| session.attributes.signed_in_at,
    )
}

/// The app on a loopback port; its base URL.
async fn serve(auth: Auth, routes: PasskeyRoutes<Auth>, layer: LuciaLayer) -> String {
    let router = Router::new().merge(routes.router()).layer(layer).with_state(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    base
}

async fn serve_default(auth: &Auth) -> String {
    serve(auth.clone(), routes(auth), LuciaLayer::new(auth)).await
}

fn millis(time: SystemTime) -> i64 {
    i64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// `name=value` of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

/// A new user with a password; its id and email.
async fn new_user(auth: &Auth) -> (String, String) {
    let email = format!("{}@example.com", lucia::generate_random_string(8));
    let key = NewKey::password("email", &email, PASSWORD);
    let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    (user.user_id, email)
}

/// The session cookie (`name=value`) of a password sign-in whose recorded time is
/// `signed_in_at`.
async fn session_cookie(auth: &Auth, email: &str, signed_in_at: Option<i64>) -> String {
    let signed_in = auth.sign_in("email", email, Some(PASSWORD), SessionAttributes { signed_in_at }).await.unwrap();
    cookie_pair(&auth.create_session_cookie(&signed_in.token, &signed_in.session).to_string())
}

/// `POST base + path` from the site's own pages, with `cookie`.
fn post(client: &reqwest::Client, base: &str, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    client.post(format!("{base}{path}")).header(ORIGIN, base).header(COOKIE, cookie)
}

/// Registers a passkey on `device` through the routes, for the session of `cookie`.
async fn register(client: &reqwest::Client, base: &str, cookie: &str, device: &mut Device) {
    let started: Value =
        post(client, base, "/passkeys/register/start", cookie).send().await.unwrap().json().await.unwrap();
    let credential = device.create(&serde_json::from_value(started["options"].clone()).unwrap()).await;
    let body = json!({ "ceremony": started["ceremony"], "credential": credential, "name": "Laptop" });
    let finished = post(client, base, "/passkeys/register/finish", cookie).json(&body).send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::OK);
}

#[tokio::test]
async fn passkey_routes_register_sign_in_and_remove() {
    let clock = TestClock::default();
    let auth = auth(&clock);
    let (user_id, email) = new_user(&auth).await;
    let cookie = session_cookie(&auth, &email, Some(millis(clock.now()))).await;
    let base = serve_default(&auth).await;
    let client = reqwest::Client::new();
    let post = |path: &str| client.post(format!("{base}{path}")).header(ORIGIN, &base);
    let mut device = Device::new(true);

    // Registration needs a session.
    let anonymous = post("/passkeys/register/start").send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let started: Value =
        post("/passkeys/register/start").header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    let options = serde_json::from_value(started["options"].clone()).unwrap();
    let credential = device.create(&options).await;
    let body = json!({ "ceremony": started["ceremony"], "credential": credential, "name": "Laptop" });
    let finished = post("/passkeys/register/finish").header(COOKIE, &cookie).json(&body).send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::OK);
    let passkey: Value = finished.json().await.unwrap();
    assert_eq!(passkey["name"], "Laptop");

    let listed: Value =
        client.get(format!("{base}/passkeys")).header(COOKIE, &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    // Sign in with the passkey alone: a new session cookie, for the same user.
    let started: Value = post("/passkeys/sign-in/start").send().await.unwrap().json().await.unwrap();
    let options = serde_json::from_value(started["options"].clone()).unwrap();
    let credential = device.get(&options).await;
    let body = json!({ "ceremony": started["ceremony"], "credential": credential });
    let finished = post("/passkeys/sign-in/finish").json(&body).send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::NO_CONTENT);
    let set_cookie = finished.headers().get(SET_COOKIE).and_then(|value| value.to_str().ok()).unwrap().to_owned();
    let new_cookie = cookie_pair(&set_cookie);
    let token = new_cookie.split_once('=').map(|(_, token)| token).unwrap();
    assert_eq!(auth.validate_session(token).await.unwrap().user.user_id, user_id);

    // The same response again: the ceremony is used up.
    let replayed = post("/passkeys/sign-in/finish").json(&body).send().await.unwrap();
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);

    // Removal: refused cross-site; refused to the passkey's session, whose sign-in time is
    // unknown (these routes set no attributes for the sessions a passkey starts); done
    // same-site by the recent password sign-in.
    let path = format!("{base}/passkeys/{}", passkey["id"].as_str().unwrap());
    let cross_site =
        client.delete(&path).header(ORIGIN, "https://evil.example").header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let unknown = client.delete(&path).header(ORIGIN, &base).header(COOKIE, &new_cookie).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
    assert_eq!(unknown.json::<Value>().await.unwrap(), json!({ "error": "reauthentication_required" }));
    assert_eq!(auth.adapter().get_user_passkeys(&user_id).await.unwrap().len(), 1);
    let removed = client.delete(&path).header(ORIGIN, &base).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert!(auth.adapter().get_user_passkeys(&user_id).await.unwrap().is_empty());
}

/// A session that signed in more than 10 minutes ago, or at an unknown time, cannot register
/// a passkey (a stolen cookie would otherwise add one that outlives a password reset), nor
/// remove one (it may rename it): `403` with a JSON code the page acts on. A fresh session
/// can; `finish` checks again.
#[tokio::test]
async fn registration_needs_a_recent_sign_in() {
    let clock = TestClock::default();
    let auth = auth(&clock);
    let (user_id, email) = new_user(&auth).await;
    let base = serve_default(&auth).await;
    let client = reqwest::Client::new();
    let mut device = Device::new(false);
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": "reauthentication_required" }));
    };

    let eleven_minutes_ago = millis(clock.now() - Duration::from_secs(11 * 60));
    let old = session_cookie(&auth, &email, Some(eleven_minutes_ago)).await;
    refused(post(&client, &base, "/passkeys/register/start", &old).send().await.unwrap()).await;
    let unknown = session_cookie(&auth, &email, None).await;
    refused(post(&client, &base, "/passkeys/register/start", &unknown).send().await.unwrap()).await;
    // The sessions themselves still work (the list is not behind the check).
    let listed = client.get(format!("{base}/passkeys")).header(COOKIE, &old).send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);

    // Fresh: the ceremony starts; 11 minutes later its finish is refused, and nothing stored.
    let fresh = session_cookie(&auth, &email, Some(millis(clock.now()))).await;
    let started = post(&client, &base, "/passkeys/register/start", &fresh).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::OK);
    let started: Value = started.json().await.unwrap();
    let credential = device.create(&serde_json::from_value(started["options"].clone()).unwrap()).await;
    clock.advance(Duration::from_secs(11 * 60));
    let body = json!({ "ceremony": started["ceremony"], "credential": credential, "name": "Laptop" });
    refused(post(&client, &base, "/passkeys/register/finish", &fresh).json(&body).send().await.unwrap()).await;
    assert!(auth.adapter().get_user_passkeys(&user_id).await.unwrap().is_empty());

    // Signed in again: registered.
    let again = session_cookie(&auth, &email, Some(millis(clock.now()))).await;
    register(&client, &base, &again, &mut device).await;
    let passkeys = auth.adapter().get_user_passkeys(&user_id).await.unwrap();
    assert_eq!(passkeys.len(), 1);

    // The old session may rename the passkey, not remove it.
    let path = format!("{base}/passkeys/{}", passkeys[0].id);
    let renamed = client.patch(&path).header(ORIGIN, &base).header(COOKIE, &old).json(&json!({ "name": "Work" }));
    assert_eq!(renamed.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    refused(client.delete(&path).header(ORIGIN, &base).header(COOKIE, &old).send().await.unwrap()).await;
    assert_eq!(auth.adapter().get_user_passkeys(&user_id).await.unwrap()[0].name, "Work");

    // An application may allow longer: an hour, and the session of 11 (now 22) minutes ago.
    let routes = routes(&auth).reauthentication_max_age(Duration::from_secs(60 * 60));
    let base = serve(auth.clone(), routes, LuciaLayer::new(&auth)).await;
    let started = post(&client, &base, "/passkeys/register/start", &old).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::OK);
}

/// A sign-in refused before its response is verified (cross-site, let through by the CSRF
/// check for its bearer token, but not allowed to set the session cookie) neither uses the
/// ceremony up nor records the passkey's use: the same response, sent from the site's own
/// page, then signs in.
#[tokio::test]
async fn a_sign_in_refused_before_verification_leaves_the_ceremony() {
    let clock = TestClock::default();
    let auth = auth(&clock);
    let (user_id, email) = new_user(&auth).await;
    let base = serve_default(&auth).await;
    let client = reqwest::Client::new();
    let mut device = Device::new(false);
    let cookie = session_cookie(&auth, &email, Some(millis(clock.now()))).await;
    register(&client, &base, &cookie, &mut device).await;
    let signed_in = auth.sign_in("email", &email, Some(PASSWORD), SessionAttributes::default()).await.unwrap();

    let started: Value = client
        .post(format!("{base}/passkeys/sign-in/start"))
        .header(ORIGIN, &base)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = device.get(&serde_json::from_value(started["options"].clone()).unwrap()).await;
    let body = json!({ "ceremony": started["ceremony"], "credential": credential });
    let finish = || client.post(format!("{base}/passkeys/sign-in/finish")).json(&body);

    let bearer = format!("Bearer {}", signed_in.token.expose_secret());
    let cross_site =
        finish().header(ORIGIN, "https://evil.example").header(AUTHORIZATION, &bearer).send().await.unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(cross_site.headers().get(SET_COOKIE).is_none());
    assert_eq!(cross_site.text().await.unwrap(), "cross-site request refused");
    let without_bearer = finish().header(ORIGIN, "https://evil.example").send().await.unwrap();
    assert_eq!(without_bearer.status(), StatusCode::FORBIDDEN);
    let stored = auth.adapter().get_user_passkeys(&user_id).await.unwrap();
    assert_eq!(stored[0].last_used_at, None, "no use recorded");

    let same_site = finish().header(ORIGIN, &base).send().await.unwrap();
    assert_eq!(same_site.status(), StatusCode::NO_CONTENT);
    assert!(same_site.headers().get(SET_COOKIE).is_some());
}

/// Starting a passkey sign-in takes from the client address's sign-in budget, as a password
/// sign-in does: past it, `429` with `Retry-After`.
#[tokio::test]
async fn passkey_sign_in_counts_against_the_sign_in_rate_limit() {
    let clock = TestClock::default();
    let auth = auth(&clock);
    let layer = LuciaLayer::new(&auth).sign_in_rate_limit(Quota::per_hour(NonZeroU32::new(2).unwrap()));
    let base = serve(auth.clone(), routes(&auth), layer).await;
    let client = reqwest::Client::new();
    let start = || client.post(format!("{base}/passkeys/sign-in/start")).header(ORIGIN, &base).send();
    for _ in 0..2 {
        assert_eq!(start().await.unwrap().status(), StatusCode::OK);
    }
    let limited = start().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key(RETRY_AFTER));
}

/// A credential id longer than 255 base64url characters is refused at registration with a
/// `400` that says why, and nothing is stored.
#[tokio::test]
async fn a_credential_id_too_long_to_store_is_a_400() {
    let clock = TestClock::default();
    let auth = auth(&clock);
    let (user_id, email) = new_user(&auth).await;
    let cookie = session_cookie(&auth, &email, Some(millis(clock.now()))).await;
    let base = serve_default(&auth).await;
    let client = reqwest::Client::new();
    let mut device = Device::new(false);

    let started: Value =
        post(&client, &base, "/passkeys/register/start", &cookie).send().await.unwrap().json().await.unwrap();
    let credential = device.create(&serde_json::from_value(started["options"].clone()).unwrap()).await;
    let credential = flows::with_credential_id_length(&credential, 192);
    let body = json!({ "ceremony": started["ceremony"], "credential": credential, "name": "Long" });
    let refused = post(&client, &base, "/passkeys/register/finish", &cookie).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.text().await.unwrap(), "passkey credential id too long");
    assert!(auth.adapter().get_user_passkeys(&user_id).await.unwrap().is_empty());
}
