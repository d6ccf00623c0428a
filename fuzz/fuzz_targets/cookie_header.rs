//! The session cookie read from a `Cookie` header (`lucia::read_cookie`, which
//! `Lucia::read_session_cookie` and lucia-axum use), duplicates included.
//!
//! Invariants: no panic; a value read is non-empty and survives lucia's own `Set-Cookie`
//! encoding; the first session cookie wins, so a duplicate appended after the header (a cookie
//! planted later, or for a longer path) never replaces the value read, and one put first does.
#![no_main]

use std::time::UNIX_EPOCH;

use libfuzzer_sys::fuzz_target;
use lucia::{SessionCookie, SessionCookieConfig, read_cookie};

const NAME: &str = "auth_session";

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    let read = read_cookie(header, NAME);
    if let Some(value) = &read {
        assert!(!value.is_empty());
    }

    // A duplicate after the header never replaces what was read.
    let appended = read_cookie(&format!("{header}; {NAME}=planted"), NAME);
    match &read {
        Some(value) => assert_eq!(appended.as_ref(), Some(value), "a later duplicate won"),
        None => assert!(appended.is_none() || appended.as_deref() == Some("planted")),
    }

    // What lucia writes, it reads back, ahead of anything else in the header.
    let value = read.clone().unwrap_or_else(|| header.to_owned());
    let config = SessionCookieConfig::default();
    let set_cookie = SessionCookie::new(&config, &value, UNIX_EPOCH, false).to_string();
    let pair = set_cookie.split(';').next().unwrap();
    let expected = (!value.is_empty()).then(|| value.clone());
    assert_eq!(read_cookie(pair, NAME), expected, "{set_cookie:?}");
    assert_eq!(read_cookie(&format!("{pair}; {header}"), NAME), expected, "an earlier cookie lost");
});
