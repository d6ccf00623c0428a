//! Properties of everything that parses request input: no input panics, and what lucia
//! writes it reads back exactly.

use std::time::UNIX_EPOCH;

use lucia::{
    AllowedSubdomains, CsrfConfig, Origin, SessionCookie, SessionCookieConfig, read_bearer_token, read_cookie,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn cookie_headers_never_panic(header in any::<String>(), name in any::<String>()) {
        let _ = read_cookie(&header, &name);
    }

    #[test]
    fn any_session_id_survives_the_cookie_round_trip(value in any::<String>(), other in "[a-z]{1,8}=[a-z0-9]{0,8}") {
        let config = SessionCookieConfig::default();
        let set_cookie = SessionCookie::new(&config, &value, UNIX_EPOCH, false).to_string();
        // What a browser sends back: the name=value pair, among other cookies.
        let pair = set_cookie.split(';').next().unwrap();
        let header = format!("{other}; {pair}");
        let expected = if value.is_empty() { None } else { Some(value.clone()) };
        prop_assert_eq!(read_cookie(&header, "auth_session"), expected);
    }

    #[test]
    fn authorization_headers_never_panic(header in any::<String>()) {
        let _ = read_bearer_token(&header);
    }

    #[test]
    fn bearer_tokens_round_trip(token in "[!-~]{1,64}") {
        let header = format!("Bearer {token}");
        prop_assert_eq!(read_bearer_token(&header), Some(token.as_str()));
    }

    #[test]
    fn origins_never_panic_and_normalise_idempotently(origin in any::<String>()) {
        if let Ok(parsed) = origin.parse::<Origin>() {
            prop_assert_eq!(parsed.to_string().parse::<Origin>(), Ok(parsed));
        }
    }

    #[test]
    fn origin_like_strings_never_panic(origin in "(https?|HTTP|ftp)://[a-zA-Z0-9.\\-_\\[\\]:]{0,40}(:[0-9]{0,6})?(/.*)?") {
        let _ = origin.parse::<Origin>();
    }

    #[test]
    fn the_csrf_check_never_panics(method in "[A-Za-z]{1,8}", origin in proptest::option::of(any::<String>())) {
        let expected: Origin = "https://app.example.co.uk".parse().unwrap();
        for allowed in [AllowedSubdomains::None, AllowedSubdomains::Any, AllowedSubdomains::Only { names: vec!["www".into()], apex: true }] {
            let config = CsrfConfig { allowed_subdomains: allowed, ..CsrfConfig::default() };
            let _ = config.verify_request_origin(&method, origin.as_deref(), &expected);
        }
    }
}
