//! The session cookie: configuration, `Set-Cookie` values (built by the `cookie` crate), and
//! reading the `Cookie` and `Authorization` request headers.

use std::time::{Duration, SystemTime};

pub use cookie::SameSite;
use cookie::time::OffsetDateTime;

/// Lucia v2's default session cookie name.
pub const DEFAULT_SESSION_COOKIE_NAME: &str = "auth_session";

/// How the session cookie is named and scoped.
///
/// Each field has its own default. (Lucia v2 replaced *all* default attributes when any was
/// given, so setting only `domain` silently dropped `Path=/` and `SameSite=Lax`; here setting
/// one field keeps the other defaults.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookieConfig {
    /// Cookie name. Default `auth_session`.
    pub name: String,
    /// `SameSite`. Default [`SameSite::Lax`]. [`SameSite::None`] always sets `Secure`, as
    /// browsers require.
    pub same_site: SameSite,
    /// `Path`. Default `Some("/")`; `None` omits the attribute.
    pub path: Option<String>,
    /// `Domain`. Default `None` (host-only cookie).
    pub domain: Option<String>,
    /// `true` (default): the cookie expires with the session's idle period.
    /// `false`: it expires a year after it is set, as Lucia v2's `expires: false`.
    pub expires: bool,
}

impl Default for SessionCookieConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_SESSION_COOKIE_NAME.to_owned(),
            same_site: SameSite::Lax,
            path: Some("/".to_owned()),
            domain: None,
            expires: true,
        }
    }
}

/// A session cookie to send in `Set-Cookie`: `HttpOnly`, scoped by the
/// [`SessionCookieConfig`], `Secure` in production and whenever `SameSite=None`.
///
/// Its value is a session token, so `Debug` does not show it; `Display` gives the `Set-Cookie`
/// header value, and [`into_cookie`](Self::into_cookie) the `cookie` crate's type (for a cookie
/// jar).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use lucia::{SessionCookie, SessionCookieConfig};
///
/// let config = SessionCookieConfig::default();
/// let expires = UNIX_EPOCH + Duration::from_millis(1_796_864_676_154);
/// let cookie = SessionCookie::new(&config, "abc", expires, false);
/// assert_eq!(
///     cookie.to_string(),
///     "auth_session=abc; HttpOnly; SameSite=Lax; Path=/; Expires=Thu, 10 Dec 2026 01:04:36 GMT"
/// );
/// assert!(!format!("{cookie:?}").contains("abc"));
/// ```
#[derive(Clone, PartialEq)]
pub struct SessionCookie(cookie::Cookie<'static>);

impl SessionCookie {
    /// A cookie with the given value and expiry, scoped by `config`.
    pub fn new(config: &SessionCookieConfig, value: &str, expires: SystemTime, secure: bool) -> Self {
        let mut cookie = cookie::Cookie::new(config.name.clone(), value.to_owned());
        cookie.set_http_only(true);
        cookie.set_same_site(config.same_site);
        cookie.set_secure(secure || config.same_site == SameSite::None);
        if let Some(path) = &config.path {
            cookie.set_path(path.clone());
        }
        if let Some(domain) = &config.domain {
            cookie.set_domain(domain.clone());
        }
        cookie.set_expires(to_offset_date_time(expires));
        Self(cookie)
    }

    /// A cookie that makes the browser delete the session cookie (empty value, `Max-Age=0`,
    /// an expiry in the past).
    pub fn blank(config: &SessionCookieConfig, secure: bool) -> Self {
        let mut cookie = Self::new(config, "", SystemTime::UNIX_EPOCH, secure);
        cookie.0.make_removal();
        // `make_removal` dates the expiry from the system clock; the epoch says the same
        // without reading it.
        cookie.0.set_expires(OffsetDateTime::UNIX_EPOCH);
        cookie
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Whether this cookie deletes the session cookie rather than setting one.
    pub fn is_removal(&self) -> bool {
        self.0.value().is_empty()
    }

    /// The `cookie` crate's cookie, for example to add to a cookie jar.
    pub fn into_cookie(self) -> cookie::Cookie<'static> {
        self.0
    }

    pub(crate) fn year_from(now: SystemTime) -> SystemTime {
        now + Duration::from_millis(31_536_000_000)
    }
}

/// The `Set-Cookie` header value (the value percent-encoded where it needs to be).
impl std::fmt::Display for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.encoded().fmt(f)
    }
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.clone();
        if !shown.value().is_empty() {
            shown.set_value("<redacted>");
        }
        f.debug_tuple("SessionCookie").field(&shown.to_string()).finish()
    }
}

fn to_offset_date_time(time: SystemTime) -> OffsetDateTime {
    // Before 1970 or past year 9999 cannot be written in an HTTP date; clamp to the epoch.
    OffsetDateTime::from(time).clamp(OffsetDateTime::UNIX_EPOCH, far_future())
}

fn far_future() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::from_millis(crate::session::FAR_FUTURE_MS as u64)
}

/// The value of the first cookie called `name` in a `Cookie` header: surrounding quotes
/// removed, percent-decoded. An empty value, or one that does not decode to UTF-8, counts as no
/// cookie (the next of that name, if any, is taken); pairs that do not parse are skipped.
///
/// ```
/// let header = "theme=dark; auth_session=abc123; auth_session=second";
/// assert_eq!(lucia::read_cookie(header, "auth_session").as_deref(), Some("abc123"));
/// assert_eq!(lucia::read_cookie("auth_session=", "auth_session"), None);
/// ```
pub fn read_cookie(header: &str, name: &str) -> Option<String> {
    read_cookies(header, name).next()
}

/// Every non-empty value of the cookie `name` in a `Cookie` header, in the header's order, as
/// [`read_cookie`] reads one. A browser sends several cookies of one name when they differ in
/// `Domain` or `Path` (one may have been planted from a sibling subdomain); it sends the one
/// with the longer path first, and otherwise the older first.
///
/// ```
/// let header = "auth_session=planted; theme=dark; auth_session=real";
/// assert_eq!(lucia::read_cookies(header, "auth_session").collect::<Vec<_>>(), ["planted", "real"]);
/// ```
pub fn read_cookies<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = String> + 'a {
    cookie::Cookie::split_parse(header).filter_map(Result::ok).filter(move |c| c.name() == name).filter_map(|cookie| {
        // Quotes around the raw value are syntax; percent-encoded ones (`%22`) are data, so
        // the quotes go before decoding.
        let value = percent_encoding::percent_decode_str(cookie.value_trimmed()).decode_utf8().ok()?;
        (!value.is_empty()).then(|| value.into_owned())
    })
}

/// The token of an `Authorization: Bearer <token>` header.
///
/// The scheme is matched case-insensitively (RFC 9110; Lucia v2 required `Bearer` exactly),
/// and anything but exactly one non-empty token after one space is rejected (Lucia v2 took the
/// first of several tokens and returned `""` for `"Bearer  x"`).
///
/// ```
/// assert_eq!(lucia::read_bearer_token("Bearer abc"), Some("abc"));
/// assert_eq!(lucia::read_bearer_token("bearer abc"), Some("abc"));
/// assert_eq!(lucia::read_bearer_token("Bearer a b"), None);
/// assert_eq!(lucia::read_bearer_token("Basic abc"), None);
/// ```
pub fn read_bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return None;
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_header_edge_cases() {
        assert_eq!(read_cookie("", "auth_session"), None);
        assert_eq!(read_cookie("auth_session", "auth_session"), None);
        assert_eq!(read_cookie(" auth_session = \"v\" ", "auth_session").as_deref(), Some("v"));
        assert_eq!(read_cookie("auth_session=a%20b", "auth_session").as_deref(), Some("a b"));
        assert_eq!(read_cookie("other_auth_session=x", "auth_session"), None);
    }

    #[test]
    fn same_site_none_is_always_secure() {
        let config = SessionCookieConfig { same_site: SameSite::None, ..SessionCookieConfig::default() };
        let cookie = SessionCookie::new(&config, "t", SystemTime::UNIX_EPOCH, false).to_string();
        assert!(cookie.contains("; Secure"), "{cookie}");
        let lax = SessionCookie::new(&SessionCookieConfig::default(), "t", SystemTime::UNIX_EPOCH, false);
        assert!(!lax.to_string().contains("Secure"));
    }

    #[test]
    fn removal_cookies_expire_at_once() {
        let cookie = SessionCookie::blank(&SessionCookieConfig::default(), true);
        assert!(cookie.is_removal());
        let text = cookie.to_string();
        assert!(text.starts_with("auth_session=;") && text.contains("Max-Age=0") && text.contains("Secure"), "{text}");
    }

    #[test]
    fn bearer_edge_cases() {
        for header in ["", "Bearer", "Bearer ", "Bearer  x", "Bearer x ", "Token x", "Bearerx"] {
            assert_eq!(read_bearer_token(header), None, "{header:?}");
        }
    }
}
