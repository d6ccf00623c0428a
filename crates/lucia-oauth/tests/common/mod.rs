//! What the tests against local fakes of providers share: the fakes' authorization endpoint
//! and code book, serving a fake on loopback, and the browser's part of a sign-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use lucia_oauth::FlowCookie;

/// A fake provider's authorization side: which client it knows, and the codes it handed out
/// and not yet redeemed, each with its authorization request's parameters.
#[derive(Clone)]
pub struct Authorizer {
    pub client_id: &'static str,
    pub redirect_url: &'static str,
    /// The `scope` parameter the client must send.
    pub scope: &'static str,
    /// Answer with the callback parameters as a form body (`response_mode=form_post`) instead
    /// of a redirect.
    pub form_post: bool,
    codes: Arc<Mutex<HashMap<String, HashMap<String, String>>>>,
}

impl Authorizer {
    pub fn new(client_id: &'static str, redirect_url: &'static str, scope: &'static str) -> Self {
        Self { client_id, redirect_url, scope, form_post: false, codes: Arc::default() }
    }

    /// The authorization request of `form`'s code, removed (a code is good once), if the
    /// token request has a PKCE verifier.
    pub fn redeem(&self, form: &HashMap<String, String>) -> Option<HashMap<String, String>> {
        if form.get("code_verifier").is_none_or(String::is_empty) {
            return None;
        }
        self.codes.lock().unwrap().remove(form.get("code")?)
    }
}

/// The authorization endpoint: checks the request (client, redirect URL, scope, S256 PKCE)
/// and sends the user back at once with a code and the `state`.
pub async fn authorize(State(fake): State<Authorizer>, Query(query): Query<HashMap<String, String>>) -> Response {
    let ok = query.get("client_id").is_some_and(|id| id == fake.client_id)
        && query.get("redirect_uri").is_some_and(|uri| uri == fake.redirect_url)
        && query.get("scope").is_some_and(|scope| scope == fake.scope)
        && query.get("code_challenge_method").is_some_and(|method| method == "S256")
        && query.contains_key("code_challenge")
        && (query.get("response_mode").is_some_and(|mode| mode == "form_post") == fake.form_post);
    if !ok {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let mut codes = fake.codes.lock().unwrap();
    let code = format!("code-{}", codes.len());
    codes.insert(code.clone(), query.clone());
    let params = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &code)
        .append_pair("state", &query["state"])
        .finish();
    if fake.form_post {
        // What the browser would POST to the callback from the provider's auto-submitted form.
        ([(header::CONTENT_TYPE, "application/x-www-form-urlencoded")], params).into_response()
    } else {
        Redirect::to(&format!("{}?{params}", fake.redirect_url)).into_response()
    }
}

/// Serves `app` on a free loopback port; its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The browser's part: the fake's authorization endpoint answers at once; the callback's
/// parameters (the redirect's query, or the `form_post` body).
pub async fn authorize_at_fake(url: &url::Url) -> String {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = browser.get(url.clone()).send().await.unwrap();
    if response.status().is_redirection() {
        let location = url::Url::parse(response.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        return location.query().unwrap().to_owned();
    }
    assert!(response.status().is_success(), "{}", response.status());
    response.text().await.unwrap()
}

/// Flow cookies for `http://` tests.
pub fn flow() -> FlowCookie {
    FlowCookie::new(cookie::Key::generate()).secure(false)
}
