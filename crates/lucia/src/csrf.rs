//! CSRF protection by checking the `Origin` header of state-changing requests.
//!
//! The rule is Lucia v2's (spec section 6.4), with its bugs fixed: a malformed or `null`
//! `Origin` is a typed rejection instead of an exception, the scheme and port must match, and
//! "the same site" means the registrable domain from the public suffix list rather than the
//! last two labels (so `a.example.co.uk` does not trust every `*.co.uk`).

use std::fmt;

/// Why a request's origin was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// A state-changing request without an `Origin` header.
    #[error("the request has no Origin header")]
    Missing,
    /// The `Origin` header is `null` or not a `scheme://host[:port]` origin.
    #[error("the Origin header is malformed or null")]
    Malformed,
    /// The origin is neither the expected one nor an allowed subdomain.
    #[error("cross-origin request from {0}")]
    CrossOrigin(String),
    /// The server cannot tell its own origin (no usable `Host` header and no configured
    /// public origin), so no `Origin` can be checked against it.
    #[error("the request's target origin is unknown")]
    UnknownTarget,
}

/// A web origin: scheme, lowercase host, and port (`None` for the scheme's default).
///
/// ```
/// use lucia::Origin;
/// let origin: Origin = "HTTPS://Example.COM:443".parse().unwrap();
/// assert_eq!(origin.to_string(), "https://example.com");
/// assert!("null".parse::<Origin>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    https: bool,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// An origin from a scheme (`http` or `https`) and a `Host` header value (`host[:port]`).
    pub fn from_scheme_and_host(scheme: &str, host: &str) -> Result<Self, OriginError> {
        format!("{scheme}://{host}").parse()
    }

    /// The host, lowercase, without the port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The registrable domain of the host ("example.co.uk" for "app.example.co.uk"), or the
    /// host itself for `localhost` and hosts under no known public suffix; `None` for IP
    /// addresses, which have no subdomains.
    fn registrable_domain(&self) -> Option<&str> {
        if self.host.starts_with('[') || self.host.parse::<std::net::Ipv4Addr>().is_ok() {
            return None;
        }
        Some(psl::domain_str(&self.host).unwrap_or(&self.host))
    }
}

impl std::str::FromStr for Origin {
    type Err = OriginError;

    fn from_str(value: &str) -> Result<Self, OriginError> {
        const MAX_LENGTH: usize = 2048;
        if value.len() > MAX_LENGTH {
            return Err(OriginError::Malformed);
        }
        let (scheme, authority) = value.split_once("://").ok_or(OriginError::Malformed)?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(OriginError::Malformed);
        };
        let (host, port) = match authority.rfind(':') {
            Some(colon) if !authority[colon..].contains(']') => (&authority[..colon], Some(&authority[colon + 1..])),
            _ => (authority, None),
        };
        let valid_host = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            inner.parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            !host.is_empty()
                && host.split('.').all(|label| {
                    !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        if !valid_host {
            return Err(OriginError::Malformed);
        }
        let port = match port {
            None => None,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse::<u16>().map_err(|_| OriginError::Malformed)?)
            }
            Some(_) => return Err(OriginError::Malformed),
        };
        let default_port = if https { 443 } else { 80 };
        Ok(Self { https, host: host.to_ascii_lowercase(), port: port.filter(|&p| p != default_port) })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Which other hosts of the same registrable domain may send state-changing requests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedSubdomains {
    /// Only the exact expected origin (the default).
    #[default]
    None,
    /// These subdomains of the registrable domain, for example `["www", "api"]`, and, if
    /// `apex` is `true`, the registrable domain itself.
    Only {
        /// Subdomain labels such as `"www"` or `"eu.api"`.
        names: Vec<String>,
        /// Whether the bare registrable domain (`example.com`) is allowed too.
        apex: bool,
    },
    /// Every subdomain of the registrable domain (not the bare domain itself).
    Any,
}

/// CSRF protection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfConfig {
    /// Whether to check origins at all. Default `true`.
    pub enabled: bool,
    /// Other hosts that are trusted. Default [`AllowedSubdomains::None`].
    pub allowed_subdomains: AllowedSubdomains,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self { enabled: true, allowed_subdomains: AllowedSubdomains::None }
    }
}

impl CsrfConfig {
    /// Checks a request's `Origin` header against the origin the request was sent to.
    ///
    /// `GET`, `HEAD`, `OPTIONS` and `TRACE` always pass; every other method needs an `Origin`
    /// equal to `expected` or to an allowed subdomain of it, with the same scheme and port.
    ///
    /// ```
    /// use lucia::{CsrfConfig, Origin, OriginError};
    ///
    /// let config = CsrfConfig::default();
    /// let site: Origin = "https://example.com".parse().unwrap();
    /// assert!(config.verify_request_origin("POST", Some("https://example.com"), &site).is_ok());
    /// assert!(config.verify_request_origin("GET", None, &site).is_ok());
    /// assert_eq!(config.verify_request_origin("POST", None, &site), Err(OriginError::Missing));
    /// assert_eq!(config.verify_request_origin("POST", Some("null"), &site), Err(OriginError::Malformed));
    /// assert!(config.verify_request_origin("POST", Some("http://example.com"), &site).is_err());
    /// ```
    pub fn verify_request_origin(
        &self,
        method: &str,
        origin: Option<&str>,
        expected: &Origin,
    ) -> Result<(), OriginError> {
        if !self.enabled || ["GET", "HEAD", "OPTIONS", "TRACE"].iter().any(|safe| method.eq_ignore_ascii_case(safe)) {
            return Ok(());
        }
        let header = origin.filter(|o| !o.is_empty()).ok_or(OriginError::Missing)?;
        let origin: Origin = header.parse()?;
        if origin == *expected || self.allows_subdomain(&origin, expected) {
            Ok(())
        } else {
            Err(OriginError::CrossOrigin(origin.to_string()))
        }
    }

    fn allows_subdomain(&self, origin: &Origin, expected: &Origin) -> bool {
        if origin.https != expected.https || origin.port != expected.port {
            return false;
        }
        // An IP address has no subdomains: `1.127.0.0.1` is no subdomain of `127.0.0.1`.
        let Some(base) = expected.registrable_domain() else { return false };
        match &self.allowed_subdomains {
            AllowedSubdomains::None => false,
            AllowedSubdomains::Any => {
                origin.host.strip_suffix(base).is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
            }
            AllowedSubdomains::Only { names, apex } => {
                (*apex && origin.host == base)
                    || names.iter().any(|name| {
                        origin.host.len() == name.len() + 1 + base.len()
                            && origin.host.starts_with(&name.to_ascii_lowercase())
                            && origin.host[name.len()..].starts_with('.')
                            && origin.host.ends_with(base)
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: &CsrfConfig, origin: &str, expected: &str) -> Result<(), OriginError> {
        config.verify_request_origin("POST", Some(origin), &expected.parse().unwrap())
    }

    #[test]
    fn parses_and_normalises_origins() {
        let cases = [
            ("http://localhost:3000", "http://localhost:3000"),
            ("http://LOCALHOST:80", "http://localhost"),
            ("https://[::1]:8443", "https://[::1]:8443"),
            ("http://127.0.0.1", "http://127.0.0.1"),
        ];
        for (input, normal) in cases {
            assert_eq!(input.parse::<Origin>().unwrap().to_string(), normal);
        }
        for bad in [
            "null",
            "",
            "example.com",
            "ftp://x",
            "http://",
            "http://a..b",
            "http://x:99999",
            "http://x:",
            "http://x/path",
            "http://[zz]",
            "http://a b",
        ] {
            assert_eq!(bad.parse::<Origin>(), Err(OriginError::Malformed), "{bad}");
        }
    }

    #[test]
    fn exact_origin_only_by_default() {
        let config = CsrfConfig::default();
        assert!(check(&config, "http://localhost:3000", "http://localhost:3000").is_ok());
        assert!(check(&config, "http://localhost:3001", "http://localhost:3000").is_err());
        assert!(check(&config, "https://localhost:3000", "http://localhost:3000").is_err());
        assert!(check(&config, "https://www.example.com", "https://example.com").is_err());
    }

    #[test]
    fn listed_subdomains_and_apex() {
        let config = CsrfConfig {
            allowed_subdomains: AllowedSubdomains::Only { names: vec!["www".into(), "eu.api".into()], apex: true },
            ..CsrfConfig::default()
        };
        let site = "https://app.example.com";
        assert!(check(&config, "https://www.example.com", site).is_ok());
        assert!(check(&config, "https://eu.api.example.com", site).is_ok());
        assert!(check(&config, "https://example.com", site).is_ok());
        assert!(check(&config, "https://api.example.com", site).is_err());
        assert!(check(&config, "https://wwwexample.com", site).is_err());
        assert!(check(&config, "http://www.example.com", site).is_err());
        assert!(check(&config, "https://www.example.com:8443", site).is_err());
    }

    #[test]
    fn any_subdomain_respects_the_public_suffix_list() {
        let config = CsrfConfig { allowed_subdomains: AllowedSubdomains::Any, ..CsrfConfig::default() };
        assert!(check(&config, "https://a.b.example.co.uk", "https://app.example.co.uk").is_ok());
        // Lucia v2 took the last two labels ("co.uk") and trusted every site under them.
        assert!(check(&config, "https://evil.co.uk", "https://app.example.co.uk").is_err());
        assert!(check(&config, "https://example.co.uk", "https://app.example.co.uk").is_err());
        assert!(check(&config, "https://notexample.co.uk", "https://app.example.co.uk").is_err());
        assert!(check(&config, "https://x.github.io", "https://me.github.io").is_err());
    }

    /// Found by the `origin` fuzz target: with subdomains allowed, an IPv4 site took
    /// `http://1.127.0.0.1` (a name ending in `.127.0.0.1`) as one of its subdomains.
    #[test]
    fn ip_addresses_have_no_subdomains() {
        let listed = AllowedSubdomains::Only { names: vec!["1".into(), "www".into()], apex: true };
        for allowed in [AllowedSubdomains::Any, listed] {
            let config = CsrfConfig { allowed_subdomains: allowed, ..CsrfConfig::default() };
            assert!(check(&config, "http://127.0.0.1", "http://127.0.0.1").is_ok());
            assert!(check(&config, "http://1.127.0.0.1", "http://127.0.0.1").is_err());
            assert!(check(&config, "http://www.127.0.0.1:8080", "http://127.0.0.1:8080").is_err());
            assert!(check(&config, "https://[::1]", "https://[::1]").is_ok());
        }
    }

    #[test]
    fn safe_methods_and_disabled_protection_pass() {
        let site: Origin = "https://example.com".parse().unwrap();
        let config = CsrfConfig::default();
        for method in ["GET", "head", "OPTIONS", "TRACE"] {
            assert!(config.verify_request_origin(method, Some("https://evil.com"), &site).is_ok());
        }
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            assert!(config.verify_request_origin(method, Some("https://evil.com"), &site).is_err());
        }
        let off = CsrfConfig { enabled: false, ..CsrfConfig::default() };
        assert!(off.verify_request_origin("POST", None, &site).is_ok());
    }
}
