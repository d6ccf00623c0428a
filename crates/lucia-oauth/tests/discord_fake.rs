//! The Discord preset against a local fake of Discord's authorize and token endpoints and its
//! `/users/@me` API (the real one cannot be reached from tests), on loopback.

mod common;

mod discord {
    use std::collections::HashMap;

    use axum::extract::{Form, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use lucia_oauth::{DiscordProvider, Error, HttpClient, Provider, ProviderUser};
    use serde_json::json;

    use crate::common::{self, Authorizer, authorize_at_fake, flow};

    const REDIRECT_URL: &str = "http://127.0.0.1:9/login/discord/callback";
    /// `Basic` of `dc-client:dc-secret`.
    const CLIENT_AUTH: &str = "Basic ZGMtY2xpZW50OmRjLXNlY3JldA==";
    const ACCESS_TOKEN: &str = "discord_fake_access_token";

    /// What `/users/@me` answers.
    #[derive(Clone, Copy)]
    enum Me {
        Verified,
        Unverified,
        NoEmail,
        Fails,
        /// A valid answer padded past 1 MiB.
        Huge,
    }

    #[derive(Clone)]
    struct Fake {
        authorizer: Authorizer,
        me: Me,
    }

    async fn token(
        State(fake): State<Fake>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        if headers.get(header::AUTHORIZATION).is_none_or(|auth| auth != CLIENT_AUTH) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        let redirect_ok = form.get("redirect_uri").is_some_and(|uri| uri == REDIRECT_URL);
        if !redirect_ok || form.get("grant_type").is_none_or(|grant| grant != "authorization_code") {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_request"}))).into_response();
        }
        if fake.authorizer.redeem(&form).is_none() {
            let error = json!({"error": "invalid_grant", "error_description": "Invalid \"code\" in request."});
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
        let token = json!({
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 604800,
            "refresh_token": "discord_fake_refresh_token",
            "scope": "identify email",
        });
        Json(token).into_response()
    }

    async fn me(State(fake): State<Fake>, headers: HeaderMap) -> Response {
        if headers.get(header::AUTHORIZATION).is_none_or(|auth| auth != &format!("Bearer {ACCESS_TOKEN}")) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let user = |email: Option<&str>, verified: bool| json!({"id": "80351110224678912", "username": "nelly", "email": email, "verified": verified});
        match fake.me {
            Me::Verified => Json(user(Some("nelly@discord.com"), true)).into_response(),
            Me::Unverified => Json(user(Some("nelly@discord.com"), false)).into_response(),
            // A user without an email, marked verified (phone): no verified email.
            Me::NoEmail => Json(user(None, true)).into_response(),
            Me::Fails => (StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response(),
            Me::Huge => {
                let mut user = user(Some("nelly@discord.com"), true);
                user["padding"] = "x".repeat(2 << 20).into();
                Json(user).into_response()
            }
        }
    }

    /// The fake on a free loopback port, and a provider pointed at it.
    async fn fake_discord(me_answers: Me) -> DiscordProvider {
        let authorizer = Authorizer::new("dc-client", REDIRECT_URL, "identify email");
        let fake = Fake { authorizer: authorizer.clone(), me: me_answers };
        let app = Router::new()
            .route("/oauth2/authorize", get(common::authorize).with_state(authorizer))
            .route("/api/oauth2/token", post(token))
            .route("/api/users/@me", get(me))
            .with_state(fake);
        let base = common::serve(app).await;
        let (authorize, token, api) =
            (format!("{base}/oauth2/authorize"), format!("{base}/api/oauth2/token"), format!("{base}/api"));
        DiscordProvider::with_endpoints("dc-client", "dc-secret", REDIRECT_URL, &authorize, &token, &api).unwrap()
    }

    /// A whole sign-in against the fake: the user, or the error of `finish`.
    async fn sign_in(discord: &DiscordProvider) -> Result<ProviderUser, Error> {
        let http = HttpClient::new().unwrap();
        let flow = flow();
        let start = discord.start(&flow).unwrap();
        let query = authorize_at_fake(&start.authorization_url).await;
        discord.finish(&http, &flow, &query, Some(&start.cookie.stripped().to_string())).await
    }

    #[tokio::test]
    async fn code_flow_to_provider_user_and_replay_refused() {
        let discord = fake_discord(Me::Verified).await;
        let debug = format!("{discord:?}");
        assert!(debug.contains("dc-client") && !debug.contains("dc-secret"), "{debug}");
        assert_eq!(discord.provider_id(), "discord");
        let http = HttpClient::new().unwrap();
        let flow = flow();
        let start = discord.start(&flow).unwrap();
        assert_eq!(start.cookie.name(), "lucia_oauth_discord");
        let query = authorize_at_fake(&start.authorization_url).await;
        let header = start.cookie.stripped().to_string();
        let user = discord.finish(&http, &flow, &query, Some(&header)).await.unwrap();
        let expected = ProviderUser {
            provider_id: "discord".into(),
            subject: "80351110224678912".into(),
            email: Some("nelly@discord.com".into()),
            email_verified: true,
        };
        assert_eq!(user, expected);

        // The same callback again: Discord refuses the used code with `invalid_grant`.
        let replay = discord.finish(&http, &flow, &query, Some(&header)).await.unwrap_err();
        assert!(
            matches!(&replay, Error::TokenExchange { error: Some(code), .. } if code == "invalid_grant"),
            "{replay:?}"
        );
        let message = replay.to_string();
        assert!(!message.contains("code-") && !message.contains(ACCESS_TOKEN), "{message}");
    }

    #[tokio::test]
    async fn unverified_or_missing_email_is_not_verified() {
        let user = sign_in(&fake_discord(Me::Unverified).await).await.unwrap();
        assert_eq!((user.email.as_deref(), user.email_verified), (Some("nelly@discord.com"), false));
        let user = sign_in(&fake_discord(Me::NoEmail).await).await.unwrap();
        assert_eq!((user.email, user.email_verified), (None, false));
    }

    #[tokio::test]
    async fn api_failure_is_a_user_info_error() {
        let error = sign_in(&fake_discord(Me::Fails).await).await.unwrap_err();
        assert!(matches!(&error, Error::UserInfo(message) if message.contains("500")), "{error:?}");
        assert!(!error.to_string().contains(ACCESS_TOKEN));
    }

    #[tokio::test]
    async fn oversized_api_answer_is_refused() {
        // Bounded like every other provider response, not read whole into memory.
        let error = sign_in(&fake_discord(Me::Huge).await).await.unwrap_err();
        assert!(matches!(&error, Error::UserInfo(message) if message.contains("larger than")), "{error:?}");
    }

    #[tokio::test]
    async fn forged_code_is_refused_by_the_provider() {
        let discord = fake_discord(Me::Verified).await;
        let http = HttpClient::new().unwrap();
        let flow = flow();
        let start = discord.start(&flow).unwrap();
        let state = start.authorization_url.query_pairs().find(|(name, _)| name == "state").unwrap().1.into_owned();
        let forged = format!("code=not-issued&state={state}");
        let error =
            discord.finish(&http, &flow, &forged, Some(&start.cookie.stripped().to_string())).await.unwrap_err();
        assert!(
            matches!(&error, Error::TokenExchange { error: Some(code), .. } if code == "invalid_grant"),
            "{error:?}"
        );
    }
}
