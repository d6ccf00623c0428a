//! The passkey routes (feature `passkey`) over HTTP, with lucia-passkey's software
//! authenticator (`crates/lucia-passkey/tests/common`, shared by path): a signed-in user
//! registers a passkey, lists it, signs in with it alone (a new session cookie), cannot
//! replay the sign-in, and removes it; the CSRF check guards the routes.

#[path = "../../lucia-passkey/tests/common/mod.rs"]
mod flows;

use axum::Router;
use flows::Device;
use lucia::memory::MemoryAdapter;
use lucia::{CreateUser, Lucia, NewKey, PasskeyAdapter};
use lucia_axum::LuciaLayer;
use lucia_axum::passkey::PasskeyRoutes;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};

type Auth = Lucia<MemoryAdapter>;

/// The app on a loopback port; its base URL.
async fn serve(auth: Auth) -> String {
    let routes = PasskeyRoutes::<Auth>::new(flows::passkeys(auth.clone()), |user| (user.user_id.clone(), "Ada".into()));
    let router = Router::new().merge(routes.router()).layer(LuciaLayer::new(&auth)).with_state(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    base
}

/// `name=value` of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn passkey_routes_register_sign_in_and_remove() {
    let auth: Auth = Lucia::builder(MemoryAdapter::new()).build();
    let key = NewKey::password("email", "ada@example.com", "correct horse battery staple");
    let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    let signed_in = auth
        .sign_in("email", "ada@example.com", Some("correct horse battery staple"), Default::default())
        .await
        .unwrap();
    let cookie = cookie_pair(&auth.create_session_cookie(&signed_in.token, &signed_in.session).to_string());
    let base = serve(auth.clone()).await;
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
    assert_eq!(auth.validate_session(token).await.unwrap().user.user_id, user.user_id);

    // The same response again: the ceremony is used up.
    let replayed = post("/passkeys/sign-in/finish").json(&body).send().await.unwrap();
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);

    // Removal: refused cross-site, done same-site.
    let path = format!("{base}/passkeys/{}", passkey["id"].as_str().unwrap());
    let cross_site =
        client.delete(&path).header(ORIGIN, "https://evil.example").header(COOKIE, &new_cookie).send().await.unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let removed = client.delete(&path).header(ORIGIN, &base).header(COOKIE, &new_cookie).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert!(auth.adapter().get_user_passkeys(&user.user_id).await.unwrap().is_empty());
}
