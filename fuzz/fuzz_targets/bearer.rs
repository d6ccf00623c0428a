//! `Authorization: Bearer <token>` (`lucia::read_bearer_token`).
//!
//! Invariants: no panic; a token read is non-empty, has no space, is the header's tail after a
//! case-insensitive `Bearer ` scheme, and round-trips through `Bearer {token}`; a header of
//! that shape is never refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lucia::read_bearer_token;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    let read = read_bearer_token(header);
    let shaped = header.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        && !header[7..].is_empty()
        && !header[7..].contains(' ');
    match read {
        Some(token) => {
            assert!(shaped, "{header:?} gave {token:?}");
            assert_eq!(token, &header[7..]);
            assert_eq!(read_bearer_token(&format!("Bearer {token}")), Some(token));
            assert_eq!(read_bearer_token(&format!("bEaReR {token}")), Some(token));
        }
        None => assert!(!shaped, "{header:?} refused"),
    }
});
