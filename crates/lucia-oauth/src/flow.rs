//! The flow cookie: what the callback must check, kept by the browser between the two steps,
//! encrypted and authenticated by the `cookie` crate's private jar (AES-256-GCM).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};

use crate::Error;

/// How the flow cookie is made: the key that encrypts it, its lifetime (10 minutes by
/// default) and whether it is `Secure` (yes by default; turn off only for `http://localhost`
/// in development).
///
/// The cookie is `HttpOnly`, `SameSite=Lax` (it must come back on the provider's top-level
/// redirect to the callback; `SameSite=None` and always `Secure` for a provider whose callback
/// is a cross-site `POST`, see [`OidcProvider::uses_form_post`](crate::OidcProvider::uses_form_post)),
/// scoped to `/`, and named `lucia_oauth_<provider id>` so that
/// flows with two providers do not overwrite each other. Its value is encrypted and
/// authenticated with `key`, and the name is part of what is authenticated: a cookie of one
/// provider is not accepted by another. The expiry is inside the encrypted value too, so a
/// browser that keeps the cookie longer gains nothing.
///
/// ```
/// let flow = lucia_oauth::FlowCookie::new(cookie::Key::generate())
///     .lifetime(std::time::Duration::from_secs(300));
/// ```
#[derive(Clone)]
pub struct FlowCookie {
    key: Key,
    lifetime: Duration,
    secure: bool,
    /// What the application bound to the flows this value starts ([`FlowCookie::bind`]).
    binding: Option<String>,
}

impl std::fmt::Debug for FlowCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowCookie")
            .field("lifetime", &self.lifetime)
            .field("secure", &self.secure)
            .field("bound", &self.binding.is_some())
            .finish_non_exhaustive()
    }
}

impl FlowCookie {
    /// Flow cookies encrypted with `key` (keep it secret and the same across the
    /// application's instances and restarts, or flows in progress fail with
    /// [`Error::TamperedFlowCookie`]). 10 minutes, `Secure`.
    pub fn new(key: Key) -> Self {
        Self { key, lifetime: Duration::from_secs(600), secure: true, binding: None }
    }

    /// A copy whose flows carry `binding`, encrypted and authenticated in the flow cookie with
    /// the rest: what the application decided when the flow started, such as "link this
    /// provider account to user 42" rather than "sign in". Read it back at the callback with
    /// [`binding`](Self::binding), after [`Provider::finish`](crate::Provider::finish)
    /// succeeded with the same cookie. Nobody but the holder of the key can make or change a
    /// binding, so a callback cannot be turned into another kind of flow.
    ///
    /// ```
    /// use lucia_oauth::FlowCookie;
    ///
    /// let flows = FlowCookie::new(cookie::Key::generate());
    /// let linking = flows.bind("link:user-42");
    /// # let _ = linking;
    /// ```
    #[must_use]
    pub fn bind(&self, binding: impl Into<String>) -> Self {
        Self { binding: Some(binding.into()), ..self.clone() }
    }

    /// The binding of the flow of `provider_id` in a request's `Cookie` header value
    /// ([`bind`](Self::bind); `None` for a flow started without one), with the same checks as
    /// [`Provider::finish`](crate::Provider::finish): [`Error::MissingFlowCookie`],
    /// [`Error::TamperedFlowCookie`], [`Error::ExpiredFlow`].
    pub fn binding(&self, provider_id: &str, cookie_header: Option<&str>) -> Result<Option<String>, Error> {
        Ok(self.open(provider_id, cookie_header)?.binding)
    }

    /// How long a user has between being sent to the provider and coming back.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Whether the cookie is `Secure`: only sent over HTTPS. Turn off for development on
    /// `http://localhost` only.
    #[must_use]
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookie's name for a provider.
    pub fn name(provider_id: &str) -> String {
        format!("lucia_oauth_{provider_id}")
    }

    /// Encrypts `state` into the cookie to send with the redirect to the provider.
    pub(crate) fn seal(&self, provider_id: &str, state: &FlowState) -> Result<Cookie<'static>, Error> {
        let value = serde_json::to_string(state).map_err(|error| Error::Configuration(error.to_string()))?;
        let max_age = cookie::time::Duration::try_from(self.lifetime).unwrap_or(cookie::time::Duration::MAX);
        let cookie = Cookie::build((Self::name(provider_id), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(max_age)
            .build();
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(cookie);
        jar.delta().next().cloned().ok_or_else(|| Error::Configuration("the flow cookie was not sealed".into()))
    }

    /// The flow of `provider_id` from a request's `Cookie` header value (`None` when the
    /// request had none): decrypted, checked, and not expired.
    pub(crate) fn open(&self, provider_id: &str, cookie_header: Option<&str>) -> Result<FlowState, Error> {
        let name = Self::name(provider_id);
        let sealed = cookie_header
            .into_iter()
            .flat_map(Cookie::split_parse_encoded)
            .filter_map(Result::ok)
            .find(|cookie| cookie.name() == name)
            .ok_or(Error::MissingFlowCookie)?;
        let mut jar = CookieJar::new();
        jar.add_original(sealed.into_owned());
        let opened = jar.private(&self.key).get(&name).ok_or(Error::TamperedFlowCookie)?;
        let state: FlowState = serde_json::from_str(opened.value()).map_err(|_| Error::TamperedFlowCookie)?;
        if state.provider != provider_id {
            return Err(Error::TamperedFlowCookie);
        }
        if now_ms() >= state.expires_at_ms {
            return Err(Error::ExpiredFlow);
        }
        Ok(state)
    }

    /// A cookie that removes the flow cookie of `provider_id`; send it with the callback's
    /// answer, whatever the outcome, so a flow is not tried twice.
    pub fn removal(&self, provider_id: &str) -> Cookie<'static> {
        let mut cookie = Cookie::build((Self::name(provider_id), ""))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .build();
        cookie.make_removal();
        cookie
    }

    /// The start of a flow for `provider_id`: `authorization_url`, and the sealed cookie
    /// holding its `state`, PKCE verifier and nonce (empty for plain OAuth 2.0).
    pub(crate) fn start(
        &self,
        provider_id: &str,
        authorization_url: url::Url,
        state: String,
        pkce_verifier: String,
        nonce: String,
    ) -> Result<crate::Start, Error> {
        let state = FlowState {
            provider: provider_id.to_owned(),
            state,
            pkce_verifier,
            nonce,
            expires_at_ms: self.expires_at_ms(),
            binding: self.binding.clone(),
        };
        Ok(crate::Start { authorization_url, cookie: self.seal(provider_id, &state)? })
    }

    /// [`start`](Self::start) with the cookie's `SameSite` attribute: `None` for a provider
    /// whose callback is a cross-site `POST` (Apple's `form_post`), which a `Lax` cookie does
    /// not come back with. A `SameSite=None` cookie is always `Secure` (browsers refuse it
    /// otherwise), whatever [`secure`](Self::secure) says.
    pub(crate) fn start_same_site(
        &self,
        provider_id: &str,
        authorization_url: url::Url,
        state: String,
        pkce_verifier: String,
        nonce: String,
        same_site: SameSite,
    ) -> Result<crate::Start, Error> {
        let mut start = self.start(provider_id, authorization_url, state, pkce_verifier, nonce)?;
        start.cookie.set_same_site(same_site);
        if same_site == SameSite::None {
            start.cookie.set_secure(true);
        }
        Ok(start)
    }

    pub(crate) fn expires_at_ms(&self) -> u64 {
        now_ms().saturating_add(u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX))
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// What one sign-in flow must remember between the redirect and the callback. Its `Debug`
/// shows none of the secrets.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct FlowState {
    /// Which provider the flow was started with.
    pub(crate) provider: String,
    /// The `state` parameter: ties the callback to this browser (CSRF).
    pub(crate) state: String,
    /// The PKCE code verifier: only this flow can redeem the code.
    pub(crate) pkce_verifier: String,
    /// The OpenID Connect nonce: ties the ID token to this flow (empty for plain OAuth 2.0).
    pub(crate) nonce: String,
    /// Milliseconds since the epoch.
    pub(crate) expires_at_ms: u64,
    /// The application's binding ([`FlowCookie::bind`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) binding: Option<String>,
}

impl std::fmt::Debug for FlowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowState")
            .field("provider", &self.provider)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// The query of the provider's redirect to the callback URL.
#[derive(Default)]
pub(crate) struct Callback {
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    /// RFC 9207's `iss`: which provider sent the user back.
    pub(crate) iss: Option<String>,
}

/// Longest provider error code or description kept in an [`Error::Provider`]: they come
/// from the query string, which anyone can write.
const MAX_PROVIDER_TEXT: usize = 200;

impl Callback {
    pub(crate) fn parse(query: &str) -> Self {
        let mut callback = Self::default();
        for (name, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let slot = match &*name {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                "iss" => &mut callback.iss,
                _ => continue,
            };
            // A repeated parameter is ambiguous; the first one counts.
            slot.get_or_insert_with(|| value.into_owned());
        }
        callback
    }

    /// Checks the `state` against the flow's in constant time; then, for a provider that
    /// names itself in its answers (RFC 9207, against mix-up), the `iss` as `issuer` says;
    /// then the provider's error; and gives the code.
    pub(crate) fn check(&self, flow: &FlowState, issuer: Iss<'_>) -> Result<&str, Error> {
        use subtle::ConstantTimeEq;
        let state = self.state.as_deref().unwrap_or_default();
        if state.is_empty() || !bool::from(state.as_bytes().ct_eq(flow.state.as_bytes())) {
            return Err(Error::StateMismatch);
        }
        match (self.iss.as_deref(), issuer) {
            (Some(iss), Iss::IfPresent(issuer) | Iss::Required(issuer)) if iss != issuer => {
                return Err(Error::IssuerMismatch);
            }
            // The provider says it names itself in every answer (RFC 9207 2.4): one without
            // `iss` is not its own.
            (None, Iss::Required(_)) => return Err(Error::IssuerMismatch),
            _ => {}
        }
        if let Some(error) = &self.error {
            return Err(Error::Provider {
                error: truncate(error),
                description: self.error_description.as_deref().map(truncate),
            });
        }
        self.code.as_deref().filter(|code| !code.is_empty()).ok_or(Error::MissingCode)
    }
}

/// What a callback's RFC 9207 `iss` parameter must be.
#[derive(Clone, Copy)]
pub(crate) enum Iss<'a> {
    /// Not checked: the provider does not name itself (plain OAuth 2.0 providers), or its
    /// issuer is known only from the ID token (Microsoft's `{tenantid}` template).
    Unchecked,
    /// This issuer when present.
    IfPresent(&'a str),
    /// Present and this issuer: the provider's metadata says
    /// `authorization_response_iss_parameter_supported`.
    Required(&'a str),
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_PROVIDER_TEXT).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn flow_state(expires_at_ms: u64) -> FlowState {
        FlowState {
            provider: "oidc".into(),
            state: "the-state".into(),
            pkce_verifier: "the-verifier".into(),
            nonce: "the-nonce".into(),
            expires_at_ms,
            binding: None,
        }
    }

    #[test]
    fn sealed_flow_opens_and_hides_its_secrets() {
        let flow = FlowCookie::new(Key::generate());
        let cookie = flow.seal("oidc", &flow_state(flow.expires_at_ms())).unwrap();
        assert_eq!(cookie.name(), "lucia_oauth_oidc");
        for secret in ["the-state", "the-verifier", "the-nonce"] {
            assert!(!cookie.value().contains(secret));
        }
        let header = format!("a=1; {}; b=2", cookie.stripped());
        let opened = flow.open("oidc", Some(&header)).unwrap();
        assert_eq!((opened.state.as_str(), opened.pkce_verifier.as_str()), ("the-state", "the-verifier"));
        let debug = format!("{opened:?} {flow:?}");
        assert!(!debug.contains("the-state") && !debug.contains("the-verifier") && !debug.contains("the-nonce"));
        // Another provider's name: not found; expired: refused.
        assert!(matches!(flow.open("github", Some(&header)), Err(Error::MissingFlowCookie)));
        let old = flow.seal("oidc", &flow_state(now_ms() - 1)).unwrap();
        assert!(matches!(flow.open("oidc", Some(&old.stripped().to_string())), Err(Error::ExpiredFlow)));
    }

    #[test]
    fn start_debug_hides_the_flows_secrets() {
        let flow = FlowCookie::new(Key::generate());
        let url = url::Url::parse("https://op.example/authorize?state=the-state&nonce=the-nonce").unwrap();
        let start = flow.start("oidc", url, "the-state".into(), "the-verifier".into(), "the-nonce".into()).unwrap();
        let debug = format!("{start:?}");
        assert!(debug.contains("https://op.example/authorize") && debug.contains("lucia_oauth_oidc"), "{debug}");
        for secret in ["the-state", "the-verifier", "the-nonce", start.cookie.value()] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn a_binding_travels_sealed_in_the_cookie() {
        let flows = FlowCookie::new(Key::generate());
        let url = url::Url::parse("https://op.example/authorize").unwrap();
        let start = |flow: &FlowCookie| {
            let start = flow.start("oidc", url.clone(), "s".into(), "v".into(), "n".into()).unwrap();
            start.cookie.stripped().to_string()
        };
        let bound = start(&flows.bind("link:user-42"));
        assert!(!bound.contains("user-42"));
        assert_eq!(flows.binding("oidc", Some(&bound)).unwrap().as_deref(), Some("link:user-42"));
        assert_eq!(flows.binding("oidc", Some(&start(&flows))).unwrap(), None);
        let other_key = FlowCookie::new(Key::generate());
        assert!(matches!(other_key.binding("oidc", Some(&bound)), Err(Error::TamperedFlowCookie)));
        assert!(matches!(flows.binding("oidc", None), Err(Error::MissingFlowCookie)));
    }

    #[test]
    fn removal_expires_the_cookie() {
        let removal = FlowCookie::new(Key::generate()).removal("oidc");
        assert_eq!((removal.name(), removal.value()), ("lucia_oauth_oidc", ""));
        assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));
    }

    #[test]
    fn callback_checks_state_before_error_and_code() {
        let flow = flow_state(u64::MAX);
        let check =
            |query: &str| Callback::parse(query).check(&flow, Iss::IfPresent("https://op.example")).map(str::to_owned);
        assert_eq!(check("?code=c&state=the-state").unwrap(), "c");
        assert!(matches!(check("code=c&state=the-state&state=other"), Ok(code) if code == "c"));
        assert!(matches!(check("code=c&state=the-stat"), Err(Error::StateMismatch)));
        assert!(matches!(check("error=access_denied"), Err(Error::StateMismatch)));
        assert!(matches!(check("state=the-state&code="), Err(Error::MissingCode)));
        assert!(matches!(check("code=c&state=the-state&iss=https://op.example"), Ok(code) if code == "c"));
        let mixed_up = "error=access_denied&state=the-state&iss=https://attacker.example";
        assert!(matches!(check(mixed_up), Err(Error::IssuerMismatch)));
        // A provider that says it always sends `iss`: an answer without it is refused.
        let required = |query: &str| Callback::parse(query).check(&flow, Iss::Required("https://op.example")).is_ok();
        assert!(required("code=c&state=the-state&iss=https://op.example"));
        assert!(!required("code=c&state=the-state"));
        assert!(!required("code=c&state=the-state&iss=https://attacker.example"));
        let long = "x".repeat(1000);
        match check(&format!("state=the-state&error={long}&error_description=a%0Ab")) {
            Err(Error::Provider { error, description }) => {
                assert_eq!(error.len(), MAX_PROVIDER_TEXT);
                assert_eq!(description.as_deref(), Some("ab"));
            }
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        /// Whatever a browser sends, opening the flow and checking the callback answer
        /// without panicking.
        #[test]
        fn arbitrary_input_never_panics(header in ".{0,300}", query in ".{0,300}") {
            let flow = FlowCookie::new(Key::generate());
            let _ = flow.open("oidc", Some(&header));
            let _ = flow.open("oidc", Some(&format!("lucia_oauth_oidc={header}")));
            let _ = Callback::parse(&query).check(&flow_state(u64::MAX), Iss::Required("https://op.example"));
        }
    }
}
