//! `lucia_axum::oauth::OAuthRoutes` against a real OpenID Connect provider: the npm
//! `oidc-provider` of `interop/oidc-provider`, started per test on a loopback port. The test
//! plays the browser: it sends the app's requests with their cookies, and drives the
//! provider's login and consent pages over HTTP until the provider redirects to the callback.
//!
//! Without `node` or `interop/oidc-provider/node_modules` the tests are skipped and say so,
//! unless `LUCIA_TEST_REQUIRE_SERVERS=1`.

mod oauth_routes {
    use std::future::Future;
    use std::net::SocketAddr;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use axum::Form;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{Request, StatusCode, header};
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::get;
    use lucia::memory::MemoryAdapter;
    use lucia::{
        CreateSession, CreateUser, Lucia, NewKey, SecondFactorCode, SecondFactorSettings, TestAuthenticator,
        TotpEncryptionKey,
    };
    use lucia_adapter_test::oidc_provider::{CLIENT_ID, CLIENT_SECRET, OidcTestProvider, sign_in_at_provider};
    use lucia_axum::oauth::OAuthRoutes;
    use lucia_axum::oauth::lucia_oauth::{
        self, FlowCookie, HttpClient, OidcProvider, Provider, ProviderUser, Start, cookie,
    };
    use lucia_axum::{AuthError, LuciaLayer, PendingSecondFactor, Quota, SignedIn};
    use serde::{Deserialize, Serialize};
    use tower::ServiceExt as _;

    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct UserAttributes {
        username: String,
    }
    type Auth = Lucia<MemoryAdapter, UserAttributes>;

    /// Never contacted: the test takes the provider's redirect to it from `Location`.
    const REDIRECT_URL: &str = "http://127.0.0.1:9/login/oidc/callback";

    struct Fixture {
        app: Router,
        auth: Auth,
        _server: OidcTestProvider,
    }

    async fn me(SignedIn { session, .. }: SignedIn<Auth>) -> String {
        session.user.attributes.username
    }

    #[derive(Deserialize)]
    struct Code {
        code: String,
    }

    /// The second step's page, where [`OAuthRoutes::second_step_page`] sends a user with a
    /// second factor.
    async fn second_factor(pending: PendingSecondFactor<Auth>, Form(form): Form<Code>) -> Result<Response, AuthError> {
        let (_, cleared) = pending.complete(&SecondFactorCode::from_input(&form.code), Default::default()).await?;
        Ok((cleared, Redirect::to("/me")).into_response())
    }

    async fn fixture_with(lifetime: Duration, burst: u32) -> Option<Fixture> {
        fixture_with_pages(lifetime, burst, false).await
    }

    /// With `pages`, failures of page requests redirect to `/sign-in?oauth_error=…`, and the
    /// layer sends page requests without a session to `/sign-in`.
    async fn fixture_with_pages(lifetime: Duration, burst: u32, pages: bool) -> Option<Fixture> {
        fixture_with_options(lifetime, burst, pages, false, false).await
    }

    /// The test provider as one whose callback is a form `POST` (as Apple's): the same flow,
    /// but `uses_form_post()`.
    struct FormPost(OidcProvider);

    impl Provider for FormPost {
        fn provider_id(&self) -> &str {
            self.0.provider_id()
        }
        fn start(&self, flow: &FlowCookie) -> Result<Start, lucia_oauth::Error> {
            self.0.start(flow)
        }
        fn finish(
            &self,
            http: &HttpClient,
            flow: &FlowCookie,
            callback: &str,
            cookie_header: Option<&str>,
        ) -> impl Future<Output = Result<ProviderUser, lucia_oauth::Error>> + Send {
            self.0.finish(http, flow, callback, cookie_header)
        }
        fn uses_form_post(&self) -> bool {
            true
        }
    }

    /// With `form_post`, the provider is [`FormPost`] and the layer exempts its callback; with
    /// `second_step`, the routes send a user with a second factor to `/second-factor`
    /// ([`OAuthRoutes::second_step_page`]). `Lucia` has second factors either way.
    async fn fixture_with_options(
        lifetime: Duration,
        burst: u32,
        pages: bool,
        form_post: bool,
        second_step: bool,
    ) -> Option<Fixture> {
        let server = OidcTestProvider::start(REDIRECT_URL).await?;
        let http = HttpClient::new().unwrap();
        let provider =
            OidcProvider::discover(&http, "oidc", &server.issuer, CLIENT_ID, Some(CLIENT_SECRET.into()), REDIRECT_URL)
                .await
                .unwrap();
        let flows = FlowCookie::new(cookie::Key::generate()).secure(false).lifetime(lifetime);
        let settings = SecondFactorSettings::new("Example", TotpEncryptionKey::from_bytes([3; 32]));
        let auth: Auth =
            Lucia::builder(MemoryAdapter::new()).user_attributes::<UserAttributes>().second_factor(settings).build();
        let options = (pages, second_step);
        let app = if form_post {
            app(FormPost(provider), http, flows, options, &auth, burst)
        } else {
            app(provider, http, flows, options, &auth, burst)
        };
        Some(Fixture { app, auth, _server: server })
    }

    fn app<P: Provider + 'static>(
        provider: P,
        http: HttpClient,
        flows: FlowCookie,
        (pages, second_step): (bool, bool),
        auth: &Auth,
        burst: u32,
    ) -> Router {
        let routes = OAuthRoutes::<Auth, _>::new(provider, http, flows, |account, attempt| UserAttributes {
            username: format!("{}#{attempt}", account.subject),
        })
        .unwrap()
        .redirect_to("/me")
        .link_redirect_to("/account");
        let routes = if pages { routes.failure_redirect_to("/sign-in") } else { routes };
        let routes = if second_step { routes.second_step_page("/second-factor") } else { routes };
        let quota = Quota::per_hour(std::num::NonZeroU32::new(burst).unwrap());
        let mut layer = LuciaLayer::new(auth).sign_in_rate_limit(quota).sign_in_url("/sign-in");
        if let Some(path) = routes.csrf_exempt_path() {
            layer = layer.csrf_exempt(&path);
        }
        Router::new()
            .route("/me", get(me))
            .route("/second-factor", axum::routing::post(second_factor))
            .merge(routes.router())
            .layer(layer)
            .with_state(auth.clone())
            .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4321))))
    }

    async fn fixture() -> Option<Fixture> {
        fixture_with(Duration::from_secs(600), 20).await
    }

    impl Fixture {
        /// A request as an API client on http://localhost sends it (no `Accept: text/html`,
        /// so failures are answered with their status), with `Origin` on a POST.
        async fn send(&self, method: &str, uri: &str, cookies: &[&str]) -> Response {
            let origin = (method == "POST").then_some("http://localhost");
            self.send_from(method, uri, origin, cookies, "").await
        }

        /// A request with this `Origin` (if any) and this URL-encoded form body (if not empty).
        async fn send_from(
            &self,
            method: &str,
            uri: &str,
            origin: Option<&str>,
            cookies: &[&str],
            form: &str,
        ) -> Response {
            let mut request = Request::builder().method(method).uri(uri).header(header::HOST, "localhost");
            if let Some(origin) = origin {
                request = request.header(header::ORIGIN, origin);
            }
            if !cookies.is_empty() {
                request = request.header(header::COOKIE, cookies.join("; "));
            }
            if !form.is_empty() {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            }
            self.app.clone().oneshot(request.body(Body::from(form.to_owned())).unwrap()).await.unwrap()
        }

        /// A user with a password and a session: its id and its session cookie (`name=value`).
        async fn user_with_session(&self, username: &str) -> (String, String) {
            let key = NewKey::password("username", username, "a long enough password");
            let user = CreateUser::new(UserAttributes { username: username.into() }).with_key(key);
            let user = self.auth.create_user(user).await.unwrap();
            let new = self.auth.create_session(CreateSession::new(&user.user_id, Default::default())).await.unwrap();
            let cookie = self.auth.create_session_cookie(&new.token, &new.session).to_string();
            (user.user_id, name_value(&cookie))
        }

        /// Turns on a confirmed TOTP for `user_id`: its authenticator app.
        async fn enable_totp(&self, user_id: &str) -> TestAuthenticator {
            let enrolment = self.auth.enrol_totp(user_id, "ada@example.com").await.unwrap();
            let app = enrolment.authenticator_for_tests();
            let _ = self.auth.confirm_totp(user_id, &app.code_at(now_seconds())).await.unwrap();
            app
        }

        /// `POST /second-factor` with `code`, as the browser with `cookies` sends it.
        async fn second_step(&self, cookies: &[&str], code: &str) -> Response {
            self.send_from("POST", "/second-factor", Some("http://localhost"), cookies, &format!("code={code}")).await
        }

        /// Starts a flow (`GET /login/oidc`, or with `session` a link: `POST
        /// /login/oidc/link`), signs in at the provider as `login`: the flow cookie and the
        /// callback's path and query.
        async fn through_provider(&self, session: Option<&str>, login: &str) -> (String, String) {
            let start = match session {
                None => self.send("GET", "/login/oidc", &[]).await,
                Some(session) => self.send("POST", "/login/oidc/link", &[session]).await,
            };
            assert_eq!(start.status(), StatusCode::SEE_OTHER);
            let flow = set_cookie(&start, "lucia_oauth_oidc").expect("the flow cookie");
            assert!(flow.contains("HttpOnly") && flow.contains("SameSite=Lax"), "{flow}");
            let authorization = url::Url::parse(location(&start)).unwrap();
            let method = authorization.query_pairs().find(|(name, _)| name == "code_challenge_method");
            assert_eq!(method.unwrap().1, "S256", "PKCE");
            let callback = sign_in_at_provider(&authorization, login, REDIRECT_URL).await;
            (name_value(&flow), format!("{}?{}", callback.path(), callback.query().unwrap_or_default()))
        }
    }

    fn now_seconds() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    fn name_value(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    fn location(response: &Response) -> &str {
        response.headers()[header::LOCATION].to_str().unwrap()
    }

    /// The `Set-Cookie` of `name` in `response`, if any.
    fn set_cookie(response: &Response, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        let values = response.headers().get_all(header::SET_COOKIE);
        values.iter().map(|value| value.to_str().unwrap().to_owned()).find(|value| value.starts_with(&prefix))
    }

    /// The answer removed the flow cookie.
    fn assert_flow_removed(response: &Response) {
        let removal = set_cookie(response, "lucia_oauth_oidc").expect("the flow cookie's removal");
        assert!(removal.starts_with("lucia_oauth_oidc=;") && removal.contains("Max-Age=0"), "{removal}");
    }

    async fn text(response: Response) -> String {
        String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn sign_in_then_replay() {
        let Some(fixture) = fixture().await else { return };
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        let signed_in = fixture.send("GET", &callback, &[&flow]).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&signed_in), "/me");
        assert_flow_removed(&signed_in);
        let session = name_value(&set_cookie(&signed_in, "auth_session").expect("a session cookie"));
        let page = fixture.send("GET", "/me", &[&session]).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(text(page).await, "ada#0", "a new user, made by new_user");
        let key = fixture.auth.get_key("oidc", "ada").await.unwrap();
        assert!(!key.password_defined);

        // Replayed with the flow cookie kept: the provider refuses the used code.
        let replayed = fixture.send("GET", &callback, &[&flow]).await;
        assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
        assert_flow_removed(&replayed);
        assert!(set_cookie(&replayed, "auth_session").is_none());
        let body = text(replayed).await;
        assert_eq!(body, "sign-in flow invalid or expired, start again");
        // Replayed as a browser would, without the removed cookie.
        let replayed = fixture.send("GET", &callback, &[]).await;
        assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
        assert_flow_removed(&replayed);

        // Signing in again while signed in: the same user, a new session, the old one ended.
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        let again = fixture.send("GET", &callback, &[&flow, &session]).await;
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        let second = name_value(&set_cookie(&again, "auth_session").unwrap());
        assert_ne!(second, session);
        assert_eq!(text(fixture.send("GET", "/me", &[&second]).await).await, "ada#0");
        assert_eq!(fixture.send("GET", "/me", &[&session]).await.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn wrong_state_missing_and_expired_flow_cookie() {
        let Some(fixture) = fixture_with(Duration::from_secs(2), 20).await else { return };
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        let mut url = url::Url::parse(&format!("http://localhost{callback}")).unwrap();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if name == "state" { "forged".into() } else { value.into_owned() };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        let forged = fixture.send("GET", &format!("{}?{}", url.path(), url.query().unwrap()), &[&flow]).await;
        assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
        assert_flow_removed(&forged);

        let missing = fixture.send("GET", &callback, &[]).await;
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        let tampered = fixture.send("GET", &callback, &["lucia_oauth_oidc=Zm9yZ2Vk"]).await;
        assert_eq!(tampered.status(), StatusCode::BAD_REQUEST);

        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let expired = fixture.send("GET", &callback, &[&flow]).await;
        assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
        assert_flow_removed(&expired);
        assert!(fixture.auth.get_key("oidc", "ada").await.is_err(), "no user was made");
    }

    #[tokio::test]
    async fn link_while_signed_in() {
        let Some(fixture) = fixture().await else { return };
        // Not signed in: no link flow starts.
        assert_eq!(fixture.send("POST", "/login/oidc/link", &[]).await.status(), StatusCode::UNAUTHORIZED);
        let (bob, session) = fixture.user_with_session("bob").await;
        let (flow, callback) = fixture.through_provider(Some(&session), "bob-at-provider").await;
        let linked = fixture.send("GET", &callback, &[&flow, &session]).await;
        assert_eq!(linked.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&linked), "/account");
        assert_flow_removed(&linked);
        assert!(set_cookie(&linked, "auth_session").is_none(), "a link keeps the session");
        assert_eq!(fixture.auth.get_key("oidc", "bob-at-provider").await.unwrap().user_id, bob);

        // From now on, the provider account signs bob in.
        let (flow, callback) = fixture.through_provider(None, "bob-at-provider").await;
        let signed_in = fixture.send("GET", &callback, &[&flow]).await;
        let session = name_value(&set_cookie(&signed_in, "auth_session").unwrap());
        assert_eq!(text(fixture.send("GET", "/me", &[&session]).await).await, "bob");
    }

    #[tokio::test]
    async fn link_refused_when_the_account_is_another_users() {
        let Some(fixture) = fixture().await else { return };
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        assert_eq!(fixture.send("GET", &callback, &[&flow]).await.status(), StatusCode::SEE_OTHER);
        let ada = fixture.auth.get_key("oidc", "ada").await.unwrap().user_id;

        let (_, session) = fixture.user_with_session("bob").await;
        let (flow, callback) = fixture.through_provider(Some(&session), "ada").await;
        let taken = fixture.send("GET", &callback, &[&flow, &session]).await;
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        assert_flow_removed(&taken);
        assert_eq!(text(taken).await, "this provider account is linked to another user");
        assert_eq!(fixture.auth.get_key("oidc", "ada").await.unwrap().user_id, ada);
    }

    #[tokio::test]
    async fn link_callback_needs_the_user_who_started_it() {
        let Some(fixture) = fixture().await else { return };
        let (_, bob) = fixture.user_with_session("bob").await;
        let (_, carol) = fixture.user_with_session("carol").await;
        let (flow, callback) = fixture.through_provider(Some(&bob), "mallory").await;
        for cookies in [vec![flow.as_str(), carol.as_str()], vec![flow.as_str()]] {
            let refused = fixture.send("GET", &callback, &cookies).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
            assert_flow_removed(&refused);
            assert!(set_cookie(&refused, "auth_session").is_none());
        }
        assert!(fixture.auth.get_key("oidc", "mallory").await.is_err(), "nothing linked");
        // Refused before the code was redeemed: with bob signed in, the same callback links.
        let linked = fixture.send("GET", &callback, &[&flow, &bob]).await;
        assert_eq!(linked.status(), StatusCode::SEE_OTHER);
        let bob_id = fixture.auth.get_key("username", "bob").await.unwrap().user_id;
        assert_eq!(fixture.auth.get_key("oidc", "mallory").await.unwrap().user_id, bob_id);
    }

    /// Callbacks take from the client address's sign-in budget, as password sign-ins do.
    #[tokio::test]
    async fn callbacks_count_against_the_per_ip_limit() {
        let Some(fixture) = fixture_with(Duration::from_secs(600), 1).await else { return };
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        assert_eq!(fixture.send("GET", &callback, &[&flow]).await.status(), StatusCode::SEE_OTHER);
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        let limited = fixture.send("GET", &callback, &[&flow]).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.headers().contains_key(header::RETRY_AFTER));
        assert_flow_removed(&limited);
    }

    /// Page requests (`Accept: text/html`): a failed callback is a redirect to the failure
    /// page with its code, the flow cookie still removed; a link started without a session
    /// goes to the sign-in page.
    #[tokio::test]
    async fn page_requests_are_redirected() {
        let Some(fixture) = fixture_with_pages(Duration::from_secs(600), 20, true).await else { return };
        let page = |method: &str, uri: &str, cookies: &[&str]| {
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::HOST, "localhost")
                .header(header::ACCEPT, "text/html")
                .header(header::ORIGIN, "http://localhost");
            if !cookies.is_empty() {
                request = request.header(header::COOKIE, cookies.join("; "));
            }
            fixture.app.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        let link = page("POST", "/login/oidc/link", &[]).await.unwrap();
        assert_eq!((link.status(), location(&link)), (StatusCode::SEE_OTHER, "/sign-in"));
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        let missing = page("GET", &callback, &[]).await.unwrap();
        assert_eq!((missing.status(), location(&missing)), (StatusCode::SEE_OTHER, "/sign-in?oauth_error=flow"));
        assert_flow_removed(&missing);
        let (_, carol) = fixture.user_with_session("carol").await;
        let (_, bob) = fixture.user_with_session("bob").await;
        let (link_flow, link_callback) = fixture.through_provider(Some(&bob), "mallory").await;
        let wrong = page("GET", &link_callback, &[&link_flow, &carol]).await.unwrap();
        assert_eq!(location(&wrong), "/sign-in?oauth_error=wrong-user");
        let signed_in = page("GET", &callback, &[&flow]).await.unwrap();
        assert_eq!((signed_in.status(), location(&signed_in)), (StatusCode::SEE_OTHER, "/me"));
    }

    /// The callback's parameters as the body Apple would post: with an ID token and the
    /// user's name, which the app does not read.
    fn apple_form(callback: &str) -> String {
        let query = callback.split_once('?').unwrap().1;
        format!("{query}&id_token=eyJ.secret-id-token.sig&user=%7B%22name%22%3A%7B%22firstName%22%3A%22Ada%22%7D%7D")
    }

    const APPLE: Option<&str> = Some("https://appleid.apple.com");

    #[tokio::test]
    async fn form_post_callback_is_a_303_to_the_get_callback_which_signs_in() {
        let Some(fixture) = fixture_with_options(Duration::from_secs(600), 20, false, true, false).await else {
            return;
        };
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        // The provider's cross-site POST: the Lax session cookie would not come with it, the
        // flow cookie (SameSite=None for such a provider) does.
        let form = apple_form(&callback);
        let posted = fixture.send_from("POST", "/login/oidc/callback", APPLE, &[&flow], &form).await;
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
        assert!(posted.headers().get(header::SET_COOKIE).is_none(), "the POST sets and removes nothing");
        let next = location(&posted).to_owned();
        let kept: Vec<(String, String)> =
            url::form_urlencoded::parse(callback.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
        let forwarded: Vec<(String, String)> =
            url::form_urlencoded::parse(next.strip_prefix("/login/oidc/callback?").unwrap().as_bytes())
                .into_owned()
                .collect();
        assert_eq!(forwarded, kept, "the code, state and iss, in order");
        assert!(forwarded.iter().any(|(name, _)| name == "code") && forwarded.iter().any(|(name, _)| name == "state"));
        assert!(!next.contains("id_token") && !next.contains("secret-id-token") && !next.contains("user"), "{next}");
        assert!(text(posted).await.is_empty());
        // The browser follows with a top-level GET: the callback signs in.
        let signed_in = fixture.send("GET", &next, &[&flow]).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&signed_in), "/me");
        assert_flow_removed(&signed_in);
        let session = name_value(&set_cookie(&signed_in, "auth_session").expect("a session cookie"));
        assert_eq!(text(fixture.send("GET", "/me", &[&session]).await).await, "ada#0");
        // Only the kept names pass, whatever else the body has; an error is passed on.
        let posted = fixture
            .send_from(
                "POST",
                "/login/oidc/callback",
                APPLE,
                &[],
                "error=access_denied&x=1&error_description=no&user=u",
            )
            .await;
        assert_eq!(location(&posted), "/login/oidc/callback?error=access_denied&error_description=no");
        // A body over the limit is refused.
        let big = format!("code=c&state=s&user={}", "a".repeat(lucia_axum::oauth::FORM_POST_LIMIT));
        let posted = fixture.send_from("POST", "/login/oidc/callback", APPLE, &[], &big).await;
        assert_eq!(posted.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn form_post_callback_of_a_link_sees_the_session_on_the_get() {
        let Some(fixture) = fixture_with_options(Duration::from_secs(600), 20, false, true, false).await else {
            return;
        };
        let (user_id, session) = fixture.user_with_session("grace").await;
        let (flow, callback) = fixture.through_provider(Some(&session), "grace-at-provider").await;
        // Even if the session cookie came with the cross-site POST, it is not used there.
        let posted =
            fixture.send_from("POST", "/login/oidc/callback", APPLE, &[&flow, &session], &apple_form(&callback)).await;
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
        assert!(posted.headers().get(header::SET_COOKIE).is_none());
        let linked = fixture.send("GET", location(&posted), &[&flow, &session]).await;
        assert_eq!(linked.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&linked), "/account");
        assert_eq!(fixture.auth.get_key("oidc", "grace-at-provider").await.unwrap().user_id, user_id);
    }

    #[tokio::test]
    async fn only_a_form_post_providers_callback_is_exempt() {
        // A cross-site POST elsewhere is still refused: the link route of a form_post provider,
        // and the callback of a provider that does not post.
        let Some(posting) = fixture_with_options(Duration::from_secs(600), 20, false, true, false).await else {
            return;
        };
        let (_, session) = posting.user_with_session("grace").await;
        let response = posting.send_from("POST", "/login/oidc/link", APPLE, &[&session], "").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(set_cookie(&response, "lucia_oauth_oidc").is_none());
        let Some(fixture) = fixture().await else { return };
        let response = fixture.send_from("POST", "/login/oidc/callback", APPLE, &[], "code=c&state=s").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(text(response).await, "cross-site request refused");
    }

    /// Opted in, a user with an authenticator app who signs in with the provider gets the
    /// pending sign-in cookie and the second step's page, no session; the step's code signs
    /// them in. A new user (who has no second factor yet) is signed in at once.
    #[tokio::test]
    async fn a_user_with_totp_signs_in_in_two_steps_when_opted_in() {
        let Some(fixture) = fixture_with_options(Duration::from_secs(600), 20, false, false, true).await else {
            return;
        };
        let (flow, callback) = fixture.through_provider(None, "ada").await;
        let signed_in = fixture.send("GET", &callback, &[&flow]).await;
        assert_eq!((signed_in.status(), location(&signed_in)), (StatusCode::SEE_OTHER, "/me"));
        assert!(set_cookie(&signed_in, "auth_session").is_some());
        assert!(set_cookie(&signed_in, "auth_session_pending").is_none());
        let user_id = fixture.auth.get_key("oidc", "ada").await.unwrap().user_id;
        let app = fixture.enable_totp(&user_id).await;

        let (flow, callback) = fixture.through_provider(None, "ada").await;
        let pending = fixture.send("GET", &callback, &[&flow]).await;
        assert_eq!((pending.status(), location(&pending)), (StatusCode::SEE_OTHER, "/second-factor"));
        assert_flow_removed(&pending);
        assert!(set_cookie(&pending, "auth_session").is_none(), "no session before the code");
        let cookie = set_cookie(&pending, "auth_session_pending").expect("the pending sign-in cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        let pending = name_value(&cookie);
        assert!(fixture.auth.get_all_user_sessions(&user_id).await.unwrap().len() == 1, "only the first one's");
        // The pending cookie is no session, nor is its token as the session cookie.
        assert_eq!(fixture.send("GET", "/me", &[&pending]).await.status(), StatusCode::UNAUTHORIZED);
        let as_session = format!("auth_session={}", pending.split_once('=').unwrap().1);
        assert_eq!(fixture.send("GET", "/me", &[&as_session]).await.status(), StatusCode::UNAUTHORIZED);

        let code = app.code_at(now_seconds() + 30);
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(fixture.second_step(&[&pending], wrong).await.status(), StatusCode::UNAUTHORIZED);
        let done = fixture.second_step(&[&pending], &code).await;
        assert_eq!((done.status(), location(&done)), (StatusCode::SEE_OTHER, "/me"));
        let cleared = set_cookie(&done, "auth_session_pending").expect("the pending cookie's removal");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        let session = name_value(&set_cookie(&done, "auth_session").expect("a session cookie"));
        assert_eq!(text(fixture.send("GET", "/me", &[&session]).await).await, "ada#0");
    }

    /// Not opted in, a user with an authenticator app cannot sign in with the provider: the
    /// callback is refused, with neither a session nor a pending sign-in (fail closed).
    #[tokio::test]
    async fn without_the_second_step_a_user_with_totp_is_refused() {
        let Some(fixture) = fixture().await else { return };
        let (bob, session) = fixture.user_with_session("bob").await;
        let (flow, callback) = fixture.through_provider(Some(&session), "bob-at-provider").await;
        assert_eq!(location(&fixture.send("GET", &callback, &[&flow, &session]).await), "/account");
        fixture.enable_totp(&bob).await;
        let sessions = fixture.auth.get_all_user_sessions(&bob).await.unwrap().len();

        let (flow, callback) = fixture.through_provider(None, "bob-at-provider").await;
        let refused = fixture.send("GET", &callback, &[&flow]).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_flow_removed(&refused);
        assert!(set_cookie(&refused, "auth_session").is_none());
        assert!(set_cookie(&refused, "auth_session_pending").is_none());
        assert_eq!(fixture.auth.get_all_user_sessions(&bob).await.unwrap().len(), sessions);
    }
}
