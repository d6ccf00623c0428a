//! The CSRF origin check: an `Origin` header against the origin made from the request's scheme
//! and `Host` header, with each kind of allowed subdomains (`lucia::CsrfConfig`).
//!
//! Input: a flags byte (bit 0: https; bits 1-2: none / any / listed subdomains; bit 3: the
//! apex too), then lines: the `Origin` header, the `Host` header, comma-separated subdomains.
//!
//! Invariants: no panic; parsed origins are lowercase and normalise idempotently; safe methods
//! always pass; an accepted origin has the expected scheme and port and a host that is the
//! expected host, or (only when allowed) a subdomain of the expected host's registrable domain
//! by a listed name or any name, or that domain itself with `apex`; a refusal names the origin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lucia::{AllowedSubdomains, CsrfConfig, Origin, OriginError};

/// `:port` or "", from the normalised form.
fn port(origin: &Origin) -> String {
    let text = origin.to_string();
    let scheme = if origin.is_https() { "https://" } else { "http://" };
    text[scheme.len() + origin.host().len()..].to_owned()
}

/// The expected host's registrable domain, as the public suffix list gives it.
fn registrable(host: &str) -> Option<&str> {
    if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return None;
    }
    Some(psl::domain_str(host).unwrap_or(host))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let mut lines = text.splitn(3, '\n');
    let header = lines.next().unwrap_or("");
    let host = lines.next().unwrap_or("");
    let names: Vec<String> = lines.next().unwrap_or("").split(',').map(str::to_owned).collect();
    let apex = flags & 8 != 0;
    let allowed = match (flags >> 1) & 3 {
        0 => AllowedSubdomains::None,
        1 => AllowedSubdomains::Any,
        _ => AllowedSubdomains::Only { names: names.clone(), apex },
    };
    let config = CsrfConfig { allowed_subdomains: allowed.clone(), ..CsrfConfig::default() };

    let parsed = header.parse::<Origin>();
    if let Ok(origin) = &parsed {
        assert_eq!(origin.to_string().parse::<Origin>().as_ref(), Ok(origin));
        assert_eq!(origin.host(), origin.host().to_ascii_lowercase());
        assert!(!origin.host().is_empty());
    }

    let scheme = if flags & 1 != 0 { "https" } else { "http" };
    let Ok(expected) = Origin::from_scheme_and_host(scheme, host) else { return };
    assert_eq!(expected.is_https(), flags & 1 != 0);

    for method in ["GET", "head", "OPTIONS", "TRACE"] {
        assert_eq!(config.verify_request_origin(method, Some(header), &expected), Ok(()));
    }
    let result = config.verify_request_origin("POST", Some(header), &expected);
    let origin = match (&parsed, &result) {
        _ if header.is_empty() => return assert_eq!(result, Err(OriginError::Missing)),
        (Err(e), _) => return assert_eq!(result.as_ref(), Err(e)),
        (Ok(origin), _) => origin,
    };
    match result {
        Ok(()) => {
            if *origin == expected {
                return;
            }
            assert_eq!(origin.is_https(), expected.is_https(), "{origin} for {expected}");
            assert_eq!(port(origin), port(&expected), "{origin} for {expected}");
            let base = registrable(expected.host()).unwrap_or_else(|| panic!("{origin} accepted for IP {expected}"));
            let host = origin.host();
            let ok = match &allowed {
                AllowedSubdomains::None => false,
                AllowedSubdomains::Any => host.len() > base.len() + 1 && host.ends_with(&format!(".{base}")),
                AllowedSubdomains::Only { names, apex } => {
                    (*apex && host == base)
                        || names.iter().any(|name| host == format!("{}.{base}", name.to_ascii_lowercase()))
                }
            };
            assert!(ok, "{origin} accepted for {expected} with {allowed:?}");
        }
        Err(OriginError::CrossOrigin(shown)) => {
            assert_eq!(shown, origin.to_string());
            assert_ne!(*origin, expected);
        }
        Err(other) => panic!("{header:?} parsed but was refused as {other:?}"),
    }
});
