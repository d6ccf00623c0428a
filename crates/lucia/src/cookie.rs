//! The session cookie: configuration, `Set-Cookie` values in Lucia v2's exact format, and
//! reading the `Cookie` and `Authorization` request headers.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::session::to_millis;

/// Lucia v2's default session cookie name.
pub const DEFAULT_SESSION_COOKIE_NAME: &str = "auth_session";

/// The `SameSite` cookie attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `SameSite=Lax` (the default).
    #[default]
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

/// How the session cookie is named and scoped.
///
/// Each field has its own default. (Lucia v2 replaced *all* default attributes when any was
/// given, so setting only `domain` silently dropped `Path=/` and `SameSite=Lax`; here setting
/// one field keeps the other defaults.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookieConfig {
    /// Cookie name. Default `auth_session`.
    pub name: String,
    /// `SameSite`. Default [`SameSite::Lax`].
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

/// A session cookie to send in `Set-Cookie`.
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
///     "auth_session=abc; Path=/; Expires=Thu, 10 Dec 2026 01:04:36 GMT; HttpOnly; SameSite=Lax"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value: the session id, or empty for a deletion cookie.
    pub value: String,
    /// `Expires`.
    pub expires: SystemTime,
    /// `Secure` (set in production).
    pub secure: bool,
    /// `SameSite`.
    pub same_site: SameSite,
    /// `Path`.
    pub path: Option<String>,
    /// `Domain`.
    pub domain: Option<String>,
}

impl SessionCookie {
    /// A cookie with the given value and expiry, scoped by `config`. `HttpOnly` is always set.
    pub fn new(config: &SessionCookieConfig, value: &str, expires: SystemTime, secure: bool) -> Self {
        Self {
            name: config.name.clone(),
            value: value.to_owned(),
            expires,
            secure,
            same_site: config.same_site,
            path: config.path.clone(),
            domain: config.domain.clone(),
        }
    }

    /// A cookie that makes the browser delete the session cookie (empty value, 1970 expiry).
    pub fn blank(config: &SessionCookieConfig, secure: bool) -> Self {
        Self::new(config, "", SystemTime::UNIX_EPOCH, secure)
    }

    pub(crate) fn year_from(now: SystemTime) -> SystemTime {
        now + Duration::from_millis(31_536_000_000)
    }
}

/// Serialises as a `Set-Cookie` value, attribute for attribute as Lucia v2 does.
impl std::fmt::Display for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, encode_uri_component(&self.value))?;
        if let Some(domain) = &self.domain {
            write!(f, "; Domain={domain}")?;
        }
        if let Some(path) = &self.path {
            write!(f, "; Path={path}")?;
        }
        write!(f, "; Expires={}", http_date(to_millis(self.expires)))?;
        f.write_str("; HttpOnly")?;
        if self.secure {
            f.write_str("; Secure")?;
        }
        f.write_str(match self.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
            SameSite::None => "; SameSite=None",
        })
    }
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is percent-encoded.
fn encode_uri_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Percent-decodes; `None` if an escape is malformed or the result is not UTF-8.
fn decode_uri_component(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `Thu, 01 Jan 1970 00:00:00 GMT` for a time in milliseconds since the epoch.
fn http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds = ms.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
    )
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The value of the first cookie called `name` in a `Cookie` header, as Lucia v2 reads it:
/// names and values trimmed, one pair of surrounding quotes removed, percent-decoded (the raw
/// value is kept if it does not decode). An empty value counts as no cookie.
///
/// ```
/// let header = "theme=dark; auth_session=abc123; auth_session=second";
/// assert_eq!(lucia::read_cookie(header, "auth_session").as_deref(), Some("abc123"));
/// assert_eq!(lucia::read_cookie("auth_session=", "auth_session"), None);
/// ```
pub fn read_cookie(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key.trim() != name {
            return None;
        }
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        if value.is_empty() {
            return None;
        }
        Some(decode_uri_component(value).unwrap_or_else(|| value.to_owned()))
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
    fn http_dates_match_javascripts_to_utc_string() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(1_796_864_676_154), "Thu, 10 Dec 2026 01:04:36 GMT");
        assert_eq!(http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
    }

    #[test]
    fn cookie_values_round_trip_through_encoding() {
        for value in ["abc", "a b;c", "ü=%", "\"q\""] {
            let header = format!("x=1; auth_session={}", encode_uri_component(value));
            assert_eq!(read_cookie(&header, "auth_session").as_deref(), Some(value));
        }
    }

    #[test]
    fn cookie_header_edge_cases() {
        assert_eq!(read_cookie("", "auth_session"), None);
        assert_eq!(read_cookie("auth_session", "auth_session"), None);
        assert_eq!(read_cookie(" auth_session = \"v\" ", "auth_session").as_deref(), Some("v"));
        assert_eq!(read_cookie("auth_session=%zz", "auth_session").as_deref(), Some("%zz"));
        assert_eq!(read_cookie("auth_session=%", "auth_session").as_deref(), Some("%"));
        assert_eq!(read_cookie("other_auth_session=x", "auth_session"), None);
    }

    #[test]
    fn bearer_edge_cases() {
        for header in ["", "Bearer", "Bearer ", "Bearer  x", "Bearer x ", "Token x", "Bearerx"] {
            assert_eq!(read_bearer_token(header), None, "{header:?}");
        }
    }
}
