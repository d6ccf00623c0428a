//! The authorization-code flow with PKCE against a real OpenID Connect provider: the npm
//! `oidc-provider` (pinned in `interop/oidc-provider`), started on a free loopback port per
//! test. Its development login and consent pages are driven over HTTP, following redirects by
//! hand until the provider redirects to the callback URL.
//!
//! Without `node` or `interop/oidc-provider/node_modules` (`npm ci --prefix
//! interop/oidc-provider`) the tests are skipped and say so, unless
//! `LUCIA_TEST_REQUIRE_SERVERS=1`.

mod oidc {
    use std::time::Duration;

    use lucia::Lucia;
    use lucia::memory::MemoryAdapter;
    use lucia_adapter_test::oidc_provider::{self, CLIENT_ID, CLIENT_SECRET, OidcTestProvider, free_port};
    use lucia_oauth::{
        Error, FlowCookie, HttpClient, OidcProvider, Provider, ProviderKeys, ProviderUser, SignInCase, Start,
    };

    /// Never contacted: the test takes the provider's redirect to it from `Location`.
    const REDIRECT_URL: &str = "http://127.0.0.1:9/login/oidc/callback";

    async fn start_server() -> Option<OidcTestProvider> {
        OidcTestProvider::start(REDIRECT_URL).await
    }

    async fn start_server_with(port: u16, email_in_id_token: bool) -> Option<OidcTestProvider> {
        OidcTestProvider::start_with(port, REDIRECT_URL, email_in_id_token).await
    }

    async fn provider(server: &OidcTestProvider, http: &HttpClient) -> OidcProvider {
        OidcProvider::discover(http, "oidc", &server.issuer, CLIENT_ID, Some(CLIENT_SECRET.into()), REDIRECT_URL)
            .await
            .expect("discovery")
    }

    fn flow_cookie() -> FlowCookie {
        FlowCookie::new(cookie::Key::generate()).secure(false)
    }

    fn cookie_header(start: &Start) -> String {
        start.cookie.stripped().to_string()
    }

    fn query_param(url: &url::Url, name: &str) -> String {
        url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned()).unwrap()
    }

    /// The browser's part, through the provider's login and consent pages: the callback's
    /// query.
    async fn sign_in_at_provider(authorization_url: &url::Url, login: &str) -> String {
        let callback = oidc_provider::sign_in_at_provider(authorization_url, login, REDIRECT_URL).await;
        callback.query().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn code_flow_with_pkce() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();

        let start = provider.start(&flow).unwrap();
        let url = &start.authorization_url;
        assert_eq!(query_param(url, "code_challenge_method"), "S256");
        assert!(query_param(url, "scope").split(' ').any(|scope| scope == "openid"));
        assert!(!query_param(url, "nonce").is_empty());
        let cookie = &start.cookie;
        assert!(cookie.http_only() == Some(true) && cookie.same_site() == Some(cookie::SameSite::Lax));
        assert_eq!(cookie.max_age(), Some(cookie::time::Duration::minutes(10)));
        // Encrypted: the state is not readable in the cookie.
        assert!(!cookie.value().contains(&query_param(url, "state")));

        let query = sign_in_at_provider(url, "ada").await;
        let user = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap();
        let expected = ProviderUser {
            provider_id: "oidc".into(),
            subject: "ada".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
        };
        assert_eq!(user, expected);

        // Onto keys: the first sign-in creates the user, the next one finds it.
        let auth = Lucia::builder(MemoryAdapter::new()).build();
        let keys = ProviderKeys::new();
        let first = keys.sign_in(&auth, &user, |_| Default::default(), Default::default()).await.unwrap();
        assert_eq!(first.case, SignInCase::NewUser);
        let start = provider.start(&flow).unwrap();
        let query = sign_in_at_provider(&start.authorization_url, "ada").await;
        let again = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap();
        let second = keys.sign_in(&auth, &again, |_| unreachable!(), Default::default()).await.unwrap();
        assert_eq!(second.case, SignInCase::ExistingKey);
        assert_eq!(second.session.session.user.user_id, first.session.session.user.user_id);
        assert!(auth.get_key("oidc", "ada").await.unwrap().password_defined.eq(&false));
    }

    /// The provider restarted with a new signing key (a key rotation) after discovery: the ID
    /// token's unknown key id makes `finish` fetch the keys again, once.
    #[tokio::test]
    async fn signing_key_rotation() {
        let Some(mut server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let jwks =
            |issuer: String| async move { reqwest::get(format!("{issuer}/jwks")).await.unwrap().text().await.unwrap() };
        let old_keys = jwks(server.issuer.clone()).await;
        let port = url::Url::parse(&server.issuer).unwrap().port().unwrap();
        server.stop().await;
        let server = start_server_with(port, false).await.unwrap();
        assert_ne!(jwks(server.issuer.clone()).await, old_keys);

        let flow = flow_cookie();
        let start = provider.start(&flow).unwrap();
        let query = sign_in_at_provider(&start.authorization_url, "ada").await;
        let user = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap();
        assert_eq!(user.subject, "ada");
    }

    /// An ID token for another nonce than the flow's (the authorization request's nonce was
    /// swapped on its way) is refused.
    #[tokio::test]
    async fn id_token_with_another_nonce() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();
        let start = provider.start(&flow).unwrap();
        let mut swapped = start.authorization_url.clone();
        let pairs: Vec<(String, String)> = start
            .authorization_url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "nonce" { "another-nonce".into() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        swapped.query_pairs_mut().clear().extend_pairs(pairs);
        let query = sign_in_at_provider(&swapped, "ada").await;
        let error = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap_err();
        assert!(matches!(&error, Error::IdToken(reason) if reason.contains("nonce")), "{error:?}");
    }

    #[tokio::test]
    async fn discovery_failures() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        // The document names 127.0.0.1, not localhost: another issuer.
        let localhost = server.issuer.replace("127.0.0.1", "localhost");
        let error =
            OidcProvider::discover(&http, "oidc", &localhost, "lucia-test", None, REDIRECT_URL).await.unwrap_err();
        assert!(matches!(error, Error::Discovery(_)), "{error:?}");
        let nothing = format!("{}/nothing-here", server.issuer);
        let error =
            OidcProvider::discover(&http, "oidc", &nothing, "lucia-test", None, REDIRECT_URL).await.unwrap_err();
        assert!(matches!(error, Error::Discovery(_)), "{error:?}");
        let error =
            OidcProvider::discover(&http, "oi:dc", &server.issuer, "lucia-test", None, REDIRECT_URL).await.unwrap_err();
        assert!(matches!(error, Error::Configuration(_)), "{error:?}");
        let error =
            OidcProvider::discover(&http, "oidc", "not a url", "lucia-test", None, REDIRECT_URL).await.unwrap_err();
        assert!(matches!(error, Error::Configuration(_)), "{error:?}");
        // The client secret is not in Debug.
        let provider = provider(&server, &http).await;
        assert!(!format!("{provider:?}").contains("lucia-test-secret"));
    }

    /// The email from the ID token itself (no user-info request), verified or not.
    #[tokio::test]
    async fn email_in_id_token() {
        let Some(server) = start_server_with(free_port(), true).await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();
        for (login, verified) in [("grace", true), ("unverified-carol", false)] {
            let start = provider.start(&flow).unwrap();
            let query = sign_in_at_provider(&start.authorization_url, login).await;
            let user = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap();
            assert_eq!(user.subject, login);
            assert_eq!(user.email, Some(format!("{login}@example.com")));
            assert_eq!(user.email_verified, verified);
        }
    }

    #[tokio::test]
    async fn unverified_email() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();
        let start = provider.start(&flow).unwrap();
        let query = sign_in_at_provider(&start.authorization_url, "unverified-bob").await;
        let user = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap();
        assert_eq!(user.email.as_deref(), Some("unverified-bob@example.com"));
        assert!(!user.email_verified);
    }

    #[tokio::test]
    async fn replayed_callback() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();
        let start = provider.start(&flow).unwrap();
        let query = sign_in_at_provider(&start.authorization_url, "ada").await;
        let header = cookie_header(&start);
        provider.finish(&http, &flow, &query, Some(&header)).await.unwrap();
        let replay = provider.finish(&http, &flow, &query, Some(&header)).await.unwrap_err();
        assert!(
            matches!(&replay, Error::TokenExchange { error: Some(code), .. } if code == "invalid_grant"),
            "{replay:?}"
        );
        // The message names the error, not the code.
        let code = query_param(&url::Url::parse(&format!("{REDIRECT_URL}?{query}")).unwrap(), "code");
        assert!(!replay.to_string().contains(&code) && !format!("{replay:?}").contains(&code));
    }

    #[tokio::test]
    async fn wrong_state() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();
        let start = provider.start(&flow).unwrap();
        let query = sign_in_at_provider(&start.authorization_url, "ada").await;
        let state = query_param(&start.authorization_url, "state");
        let header = cookie_header(&start);

        // The callback of another flow (another browser's state) ...
        let other = provider.start(&flow).unwrap();
        let crossed = provider.finish(&http, &flow, &query, Some(&cookie_header(&other))).await.unwrap_err();
        assert!(matches!(crossed, Error::StateMismatch), "{crossed:?}");
        // ... a forged or missing state ...
        let forged = query.replace(&format!("state={state}"), "state=forged");
        let error = provider.finish(&http, &flow, &forged, Some(&header)).await.unwrap_err();
        assert!(matches!(error, Error::StateMismatch), "{error:?}");
        let missing = query.replace(&format!("state={state}"), "");
        let error = provider.finish(&http, &flow, &missing, Some(&header)).await.unwrap_err();
        assert!(matches!(error, Error::StateMismatch), "{error:?}");
        // ... an answer naming another issuer (RFC 9207; the real one names this provider) ...
        let iss = query_param(&url::Url::parse(&format!("{REDIRECT_URL}?{query}")).unwrap(), "iss");
        assert_eq!(iss, server.issuer);
        let mixed_up = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).map(|(key, value)| {
                let value = if key == "iss" { "https://attacker.example".into() } else { value };
                (key, value)
            }))
            .finish();
        let error = provider.finish(&http, &flow, &mixed_up, Some(&header)).await.unwrap_err();
        assert!(matches!(error, Error::IssuerMismatch), "{error:?}");
        // ... or none, from a provider whose metadata says it always names itself ...
        let no_iss = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(key, _)| key != "iss"))
            .finish();
        let error = provider.finish(&http, &flow, &no_iss, Some(&header)).await.unwrap_err();
        assert!(matches!(error, Error::IssuerMismatch), "{error:?}");
        // ... or no flow cookie: all refused before the code is used, which still works.
        let error = provider.finish(&http, &flow, &query, None).await.unwrap_err();
        assert!(matches!(error, Error::MissingFlowCookie), "{error:?}");
        let error = provider.finish(&http, &flow, &query, Some("other=1")).await.unwrap_err();
        assert!(matches!(error, Error::MissingFlowCookie), "{error:?}");
        provider.finish(&http, &flow, &query, Some(&header)).await.unwrap();
    }

    #[tokio::test]
    async fn provider_error() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();
        let start = provider.start(&flow).unwrap();
        let state = query_param(&start.authorization_url, "state");
        let iss = url::form_urlencoded::byte_serialize(server.issuer.as_bytes()).collect::<String>();
        let query = format!("error=access_denied&error_description=The+user+said+no&state={state}&iss={iss}");
        let error = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap_err();
        match error {
            Error::Provider { error, description } => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("The user said no"));
            }
            other => panic!("{other:?}"),
        }
        let error =
            provider.finish(&http, &flow, &format!("state={state}&iss={iss}"), Some(&cookie_header(&start))).await;
        assert!(matches!(error, Err(Error::MissingCode)), "{error:?}");
    }

    #[tokio::test]
    async fn expired_flow_cookie() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie().lifetime(Duration::from_secs(1));
        let start = provider.start(&flow).unwrap();
        let query = sign_in_at_provider(&start.authorization_url, "ada").await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let error = provider.finish(&http, &flow, &query, Some(&cookie_header(&start))).await.unwrap_err();
        assert!(matches!(error, Error::ExpiredFlow), "{error:?}");
    }

    #[tokio::test]
    async fn tampered_flow_cookie() {
        let Some(server) = start_server().await else { return };
        let http = HttpClient::new().unwrap();
        let provider = provider(&server, &http).await;
        let flow = flow_cookie();
        let start = provider.start(&flow).unwrap();
        let query = sign_in_at_provider(&start.authorization_url, "ada").await;
        let header = cookie_header(&start);
        let (name, value) = header.split_once('=').unwrap();

        // One byte of the ciphertext changed.
        let mut bytes = value.as_bytes().to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{name}={}", String::from_utf8(bytes).unwrap());
        let error = provider.finish(&http, &flow, &query, Some(&flipped)).await.unwrap_err();
        assert!(matches!(error, Error::TamperedFlowCookie), "{error:?}");
        // Sealed with another application's key.
        let error = provider.finish(&http, &flow_cookie(), &query, Some(&header)).await.unwrap_err();
        assert!(matches!(error, Error::TamperedFlowCookie), "{error:?}");
        // Not a sealed value at all.
        let error = provider.finish(&http, &flow, &query, Some(&format!("{name}=%%%"))).await.unwrap_err();
        assert!(matches!(error, Error::TamperedFlowCookie), "{error:?}");
        // Another provider's flow cookie (same key) under this provider's name: the name is
        // authenticated with the value.
        let other =
            OidcProvider::discover(&http, "other", &server.issuer, "lucia-test", None, REDIRECT_URL).await.unwrap();
        let other_start = other.start(&flow).unwrap();
        let other_value = other_start.cookie.value();
        let error = provider.finish(&http, &flow, &query, Some(&format!("{name}={other_value}"))).await.unwrap_err();
        assert!(matches!(error, Error::TamperedFlowCookie), "{error:?}");
        // The untouched cookie still works.
        provider.finish(&http, &flow, &query, Some(&header)).await.unwrap();
    }
}
