//! Two-step sign-in over real HTTP (`two_step_http::<case>`): the pending sign-in cookie gets
//! a request nowhere but the step's route, whether sent as the pending cookie, as the session
//! cookie or as a bearer token; the step's route trades it and a code for a new session
//! cookie; in the default (hashed) token mode and in Lucia v2 compatible mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use lucia::memory::MemoryAdapter;
use lucia::{
    CreateUser, Lucia, NewKey, NoAttributes, SecondFactorCode, SecondFactorSettings, TestAuthenticator,
    TotpEncryptionKey,
};
use lucia_axum::{AuthError, AuthRequest, LuciaLayer, PendingSecondFactor, SignInStep, SignedIn};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, COOKIE, LOCATION, ORIGIN, SET_COOKIE};

type Auth = Lucia<MemoryAdapter>;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// A fixed start on the test clock (Unix seconds), at the start of a 30-second step.
const START_SECONDS: u64 = 1_795_655_070;

#[derive(serde::Deserialize)]
struct Code {
    code: String,
}

async fn sign_in(auth: AuthRequest<Auth>, password: String) -> Result<Response, AuthError> {
    match auth.sign_in_with_second_factor("email", EMAIL, Some(&password), NoAttributes {}).await? {
        SignInStep::SignedIn(_) => Ok(Redirect::to("/me").into_response()),
        SignInStep::SecondFactorRequired(cookie) => Ok((cookie, Redirect::to("/second-factor")).into_response()),
    }
}

/// The plain sign-in, which refuses a user with a second factor.
async fn plain_sign_in(auth: AuthRequest<Auth>, password: String) -> Result<&'static str, AuthError> {
    auth.sign_in("email", EMAIL, Some(&password), NoAttributes {}).await?;
    Ok("signed in")
}

async fn second_factor(pending: PendingSecondFactor<Auth>, Form(form): Form<Code>) -> Result<Response, AuthError> {
    let (_, cleared) = pending.complete(&SecondFactorCode::from_input(&form.code), NoAttributes {}).await?;
    Ok((cleared, Redirect::to("/me")).into_response())
}

async fn me(SignedIn { session, .. }: SignedIn<Auth>) -> String {
    session.user.user_id
}

struct Server {
    base: String,
    client: reqwest::Client,
    clock: Arc<AtomicI64>,
    app: TestAuthenticator,
    user_id: String,
    recovery_codes: Vec<String>,
}

async fn start(compat: bool) -> Server {
    let clock = Arc::new(AtomicI64::new((START_SECONDS * 1000) as i64));
    let time = clock.clone();
    let key = TotpEncryptionKey::from_bytes([3; 32]);
    let mut builder = Lucia::builder(MemoryAdapter::new())
        .clock(move || UNIX_EPOCH + Duration::from_millis(time.load(Ordering::SeqCst) as u64))
        .second_factor(SecondFactorSettings::new("Example", key));
    if compat {
        builder = builder.lucia_v2_compat();
    }
    let lucia = builder.build();
    let user = CreateUser::new(NoAttributes {}).with_key(NewKey::password("email", EMAIL, PASSWORD));
    let user_id = lucia.create_user(user).await.unwrap().user_id;
    let enrolment = lucia.enrol_totp(&user_id, EMAIL).await.unwrap();
    let app = enrolment.authenticator_for_tests();
    let recovery_codes = lucia.confirm_totp(&user_id, &app.code_at(START_SECONDS)).await.unwrap().codes().to_vec();

    let router = Router::new()
        .route("/sign-in", post(sign_in))
        .route("/plain-sign-in", post(plain_sign_in))
        .route("/second-factor", post(second_factor))
        .route("/me", get(me))
        .layer(LuciaLayer::new(&lucia).sign_in_url("/sign-in-page"))
        .with_state(lucia);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Server { base, client, clock, app, user_id, recovery_codes }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The authenticator's code now, on the test clock; the clock then moves a step on, so
    /// that the next code is fresh.
    fn next_code(&self) -> String {
        self.clock.fetch_add(30_000, Ordering::SeqCst);
        let now = u64::try_from(self.clock.load(Ordering::SeqCst) / 1000).unwrap();
        self.app.code_at(now)
    }

    async fn post(&self, path: &str, cookie: &str, body: &str) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).header(ORIGIN, &self.base).body(body.to_owned());
        if path == "/second-factor" {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        if !cookie.is_empty() {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    async fn me(&self, cookie: Option<&str>, bearer: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url("/me"));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(bearer) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {bearer}"));
        }
        request.send().await.unwrap()
    }

    /// Signs in with the password: the pending cookie's token.
    async fn pending(&self) -> String {
        let response = self.post("/sign-in", "", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/second-factor");
        let cookies = set_cookies(&response);
        assert_eq!(cookies.len(), 1, "only the pending cookie: {cookies:?}");
        let cookie = &cookies[0];
        assert!(cookie.starts_with("auth_session_pending="), "{cookie}");
        assert!(cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Lax") && cookie.contains("; Path=/"));
        value(cookie, "auth_session_pending")
    }
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all(SET_COOKIE).iter().map(|value| value.to_str().unwrap().to_owned()).collect()
}

fn value(set_cookie: &str, name: &str) -> String {
    set_cookie.split(';').next().unwrap().strip_prefix(&format!("{name}=")).unwrap().to_owned()
}

async fn two_step_sign_in(compat: bool) {
    let server = start(compat).await;
    // The plain sign-in refuses: a password alone is not enough, and no cookie is set.
    let plain = server.post("/plain-sign-in", "", PASSWORD).await;
    assert_eq!(plain.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(&plain).is_empty());
    assert_eq!(plain.text().await.unwrap(), "second factor required");
    // A wrong password says only that.
    assert_eq!(server.post("/sign-in", "", "wrong").await.status(), StatusCode::UNAUTHORIZED);

    let pending = server.pending().await;
    let pending_cookie = format!("auth_session_pending={pending}");
    // Signed out everywhere else, however the pending token is sent.
    assert_eq!(server.me(Some(&pending_cookie), None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.me(Some(&format!("auth_session={pending}")), None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.me(None, Some(&pending)).await.status(), StatusCode::UNAUTHORIZED);
    let page = server.client.get(server.url("/me")).header(ACCEPT, "text/html").header(COOKIE, &pending_cookie);
    let page = page.send().await.unwrap();
    assert_eq!((page.status(), page.headers()[LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/sign-in-page"));

    // The step's route needs the pending cookie (not a session cookie holding it) ...
    let code = server.next_code();
    let missing = server.post("/second-factor", &format!("auth_session={pending}"), &format!("code={code}")).await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    // ... and a right code: a wrong one is 401 and the pending sign-in stays.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = server.post("/second-factor", &pending_cookie, &format!("code={wrong}")).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.text().await.unwrap(), "invalid code");
    // A cross-site form post is refused before the handler.
    let cross_site = server
        .client
        .post(server.url("/second-factor"))
        .header(ORIGIN, "https://evil.example")
        .header(COOKIE, &pending_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    let done = server.post("/second-factor", &pending_cookie, &format!("code={code}")).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&done);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let session_cookie = cookies.iter().find(|c| c.starts_with("auth_session=")).expect("a session cookie");
    let cleared =
        cookies.iter().find(|c| c.starts_with("auth_session_pending=")).expect("the pending cookie's removal");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let token = value(session_cookie, "auth_session");
    assert_ne!(token, pending, "a new token, not the pending one promoted");
    let me = server.me(Some(&format!("auth_session={token}")), None).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.text().await.unwrap(), server.user_id);
    assert_eq!(server.me(None, Some(&token)).await.status(), StatusCode::OK);

    // The pending sign-in was used up: replaying it, even with a fresh code, is refused.
    let again = server.post("/second-factor", &pending_cookie, &format!("code={}", server.next_code())).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookies(&again).is_empty());
}

mod two_step_http {
    #[tokio::test]
    async fn two_step_sign_in_with_hashed_tokens() {
        super::two_step_sign_in(false).await;
    }

    #[tokio::test]
    async fn two_step_sign_in_in_lucia_v2_compat_mode() {
        super::two_step_sign_in(true).await;
    }

    /// A recovery code completes the step too, once.
    #[tokio::test]
    async fn a_recovery_code_completes_the_step_once() {
        use super::*;
        let server = start(false).await;
        let first = format!("auth_session_pending={}", server.pending().await);
        let code = format!("code={}", server.recovery_codes[0]);
        assert_eq!(server.post("/second-factor", &first, &code).await.status(), StatusCode::SEE_OTHER);
        let second = format!("auth_session_pending={}", server.pending().await);
        assert_eq!(server.post("/second-factor", &second, &code).await.status(), StatusCode::UNAUTHORIZED);
        let other = format!("code={}", server.recovery_codes[1].to_uppercase());
        assert_eq!(server.post("/second-factor", &second, &other).await.status(), StatusCode::SEE_OTHER);
    }
}
