//! The GitHub preset against a local fake of GitHub's authorize and token endpoints and its
//! `/user` and `/user/emails` API (the real one cannot be reached from tests), on loopback.

mod common;

mod github {
    use std::collections::HashMap;

    use axum::extract::{Form, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use lucia_oauth::{Error, FlowCookie, GitHubProvider, HttpClient, Provider, ProviderUser};
    use serde_json::json;

    use crate::common::{self, Authorizer, authorize_at_fake, flow};

    const REDIRECT_URL: &str = "http://127.0.0.1:9/login/github/callback";
    /// `Basic` of `gh-client:gh-secret`.
    const CLIENT_AUTH: &str = "Basic Z2gtY2xpZW50OmdoLXNlY3JldA==";
    const ACCESS_TOKEN: &str = "gho_fake_access_token";

    #[derive(Clone)]
    struct Fake {
        authorizer: Authorizer,
        primary_verified: bool,
    }

    async fn token(
        State(fake): State<Fake>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        if headers.get(header::AUTHORIZATION).is_none_or(|auth| auth != CLIENT_AUTH) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        if fake.authorizer.redeem(&form).is_none() {
            // GitHub answers a bad or used code with 200 OK and an error object.
            let error = json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."});
            return Json(error).into_response();
        }
        Json(json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "user:email"})).into_response()
    }

    fn authorized(headers: &HeaderMap) -> bool {
        let bearer = headers.get(header::AUTHORIZATION).is_some_and(|auth| auth == &format!("Bearer {ACCESS_TOKEN}"));
        bearer && headers.contains_key(header::USER_AGENT)
    }

    async fn user(headers: HeaderMap) -> Response {
        if !authorized(&headers) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        Json(json!({"id": 583231, "login": "octocat"})).into_response()
    }

    async fn emails(State(fake): State<Fake>, headers: HeaderMap) -> Response {
        if !authorized(&headers) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        Json(json!([
            {"email": "octocat@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
            {"email": "octocat@github.com", "primary": true, "verified": fake.primary_verified, "visibility": "public"},
        ]))
        .into_response()
    }

    /// The fake on a free loopback port, and a provider pointed at it.
    async fn fake_github(primary_verified: bool) -> GitHubProvider {
        let authorizer = Authorizer::new("gh-client", REDIRECT_URL, "user:email");
        let fake = Fake { authorizer: authorizer.clone(), primary_verified };
        let app = Router::new()
            .route("/login/oauth/authorize", get(common::authorize).with_state(authorizer))
            .route("/login/oauth/access_token", post(token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .with_state(fake);
        let base = common::serve(app).await;
        GitHubProvider::with_endpoints(
            "gh-client",
            "gh-secret",
            REDIRECT_URL,
            &format!("{base}/login/oauth/authorize"),
            &format!("{base}/login/oauth/access_token"),
            &format!("{base}/api"),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn code_flow_to_provider_user() {
        let github = fake_github(true).await;
        assert!(!format!("{github:?}").contains("gh-secret"));
        let http = HttpClient::new().unwrap();
        let flow = flow();
        let start = github.start(&flow).unwrap();
        let query = authorize_at_fake(&start.authorization_url).await;
        let header = start.cookie.stripped().to_string();
        let user = github.finish(&http, &flow, &query, Some(&header)).await.unwrap();
        let expected = ProviderUser {
            provider_id: "github".into(),
            subject: "583231".into(),
            email: Some("octocat@github.com".into()),
            email_verified: true,
        };
        assert_eq!(user, expected);

        // The same callback again: GitHub's 200-with-error answer is a typed refusal.
        let replay = github.finish(&http, &flow, &query, Some(&header)).await.unwrap_err();
        assert!(
            matches!(&replay, Error::TokenExchange { error: Some(code), .. } if code == "bad_verification_code"),
            "{replay:?}"
        );
    }

    #[tokio::test]
    async fn unverified_primary_email() {
        let github = fake_github(false).await;
        let http = HttpClient::new().unwrap();
        let flow = flow();
        let start = github.start(&flow).unwrap();
        let query = authorize_at_fake(&start.authorization_url).await;
        let user = github.finish(&http, &flow, &query, Some(&start.cookie.stripped().to_string())).await.unwrap();
        assert_eq!((user.email.as_deref(), user.email_verified), (Some("octocat@github.com"), false));
    }

    #[tokio::test]
    async fn wrong_state_and_cookie_of_another_provider() {
        let github = fake_github(true).await;
        let http = HttpClient::new().unwrap();
        let flow = flow();
        let start = github.start(&flow).unwrap();
        let query = authorize_at_fake(&start.authorization_url).await;
        let header = start.cookie.stripped().to_string();
        let other = github.start(&flow).unwrap();
        let error = github.finish(&http, &flow, &query, Some(&other.cookie.stripped().to_string())).await.unwrap_err();
        assert!(matches!(error, Error::StateMismatch), "{error:?}");
        // A GitHub Enterprise provider with the same key does not accept github.com's flow.
        let enterprise = github.clone().provider_id_as("github-enterprise").unwrap();
        let value = start.cookie.value();
        let renamed = format!("{}={value}", FlowCookie::name("github-enterprise"));
        let error = enterprise.finish(&http, &flow, &query, Some(&renamed)).await.unwrap_err();
        assert!(matches!(error, Error::TamperedFlowCookie), "{error:?}");
        github.finish(&http, &flow, &query, Some(&header)).await.unwrap();
    }
}
