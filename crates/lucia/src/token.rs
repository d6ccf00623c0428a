//! Session tokens and session handles.
//!
//! The **token** is the credential: the client holds it (cookie value or bearer token), and it
//! is never written to logs, pages or `Debug` output. The store holds the token itself (Lucia
//! v2 compatible) or its SHA-256 (the default), as [`SessionTokens`] says.
//!
//! The **handle** names a session without authenticating it: lists of sessions carry handles,
//! and a session is revoked by its handle ([`Lucia::invalidate_user_session`]). A handle is
//! derived from the stored id by a one-way hash, so it cannot be turned back into a token in
//! either mode.
//!
//! [`Lucia::invalidate_user_session`]: crate::Lucia::invalidate_user_session

use std::fmt;

use sha2::{Digest, Sha256};

use crate::id::{SESSION_ID_LENGTH, generate_random_string};

/// The longest session token accepted from a request or as an explicit token; longer ones are
/// rejected before any query. Lucia's own tokens are 40 characters.
pub const MAX_SESSION_TOKEN_LENGTH: usize = 255;

/// How session tokens are kept in the session table's `id` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SessionTokens {
    /// The lowercase hex SHA-256 of the token (64 characters; it fits Lucia v2's `id` column).
    /// A read-only leak of the table (a backup, a replica) yields no usable session. The
    /// default.
    #[default]
    Hashed,
    /// The token itself, as Lucia v2 stores it: needed to share a session table with a Lucia v2
    /// application. See [`LuciaBuilder::lucia_v2_compat`](crate::LuciaBuilder::lucia_v2_compat).
    Plain,
}

impl SessionTokens {
    /// The `id` column value for a token.
    ///
    /// ```
    /// use lucia::SessionTokens;
    /// assert_eq!(SessionTokens::Plain.stored_id("abc"), "abc");
    /// assert_eq!(
    ///     SessionTokens::Hashed.stored_id("abc"),
    ///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    /// );
    /// ```
    pub fn stored_id(self, token: &str) -> String {
        match self {
            Self::Hashed => sha256_hex(token.as_bytes()),
            Self::Plain => token.to_owned(),
        }
    }
}

impl SessionTokens {
    /// Whether a stored id has the shape of a [`Hashed`](Self::Hashed) one: 64 lowercase hex
    /// characters (a length Lucia v2 never generates).
    ///
    /// ```
    /// use lucia::SessionTokens;
    /// assert!(SessionTokens::is_hashed_id(&SessionTokens::Hashed.stored_id("token")));
    /// assert!(!SessionTokens::is_hashed_id("abcdefghijklmnopqrstuvwxyz0123456789abcd"));
    /// ```
    pub fn is_hashed_id(stored_id: &str) -> bool {
        stored_id.len() == 64 && stored_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

/// Lowercase hex of SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// A session token: the secret a client presents (as the session cookie or a bearer token).
///
/// `Debug` does not show it; read it with [`expose_secret`](Self::expose_secret) only to hand
/// it to its owner.
///
/// ```
/// let token = lucia::SessionToken::from("abc".to_owned());
/// assert_eq!(format!("{token:?}"), "SessionToken(<redacted>)");
/// assert_eq!(token.expose_secret(), "abc");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// 40 characters of `[a-z0-9]` from the operating system's CSPRNG (about 206 bits).
    pub(crate) fn generate() -> Self {
        Self(generate_random_string(SESSION_ID_LENGTH))
    }

    /// The token, to send to its owner (cookie, token response) and nowhere else.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SessionToken {
    fn from(token: String) -> Self {
        Self(token)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// Names one session without authenticating it: safe to put in a page, a form, a log or an
/// API response. Given back to [`Lucia::invalidate_user_session`], it revokes that session.
///
/// It is 32 lowercase hex characters (128 bits of a SHA-256 of the stored id), so it cannot be
/// turned into the session's token, in either [`SessionTokens`] mode.
///
/// ```
/// let handle: lucia::SessionHandle = "0123456789abcdef0123456789abcdef".parse().unwrap();
/// assert_eq!(handle.to_string(), "0123456789abcdef0123456789abcdef");
/// assert!("not a handle".parse::<lucia::SessionHandle>().is_err());
/// ```
///
/// [`Lucia::invalidate_user_session`]: crate::Lucia::invalidate_user_session
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionHandle(String);

const HANDLE_LENGTH: usize = 32;

impl SessionHandle {
    /// The handle of the session whose `id` column holds `stored_id`.
    pub(crate) fn of_stored_id(stored_id: &str) -> Self {
        let mut hasher = Sha256::new();
        // Domain separation: a handle is never equal to the hashed-mode stored id.
        hasher.update(b"lucia session handle\0");
        hasher.update(stored_id.as_bytes());
        Self(hex(&hasher.finalize()[..HANDLE_LENGTH / 2]))
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text is not a session handle (32 lowercase hex characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a session handle")]
pub struct InvalidSessionHandle;

impl std::str::FromStr for SessionHandle {
    type Err = InvalidSessionHandle;

    fn from_str(text: &str) -> Result<Self, InvalidSessionHandle> {
        let valid = text.len() == HANDLE_LENGTH && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid { Ok(Self(text.to_owned())) } else { Err(InvalidSessionHandle) }
    }
}

impl TryFrom<String> for SessionHandle {
    type Error = InvalidSessionHandle;

    fn try_from(text: String) -> Result<Self, InvalidSessionHandle> {
        text.parse()
    }
}

impl From<SessionHandle> for String {
    fn from(handle: SessionHandle) -> Self {
        handle.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_neither_tokens_nor_stored_ids() {
        let token = "abcdefghijklmnopqrstuvwxyz0123456789abcd";
        for mode in [SessionTokens::Hashed, SessionTokens::Plain] {
            let stored = mode.stored_id(token);
            let handle = SessionHandle::of_stored_id(&stored);
            assert_eq!(handle.as_str().len(), HANDLE_LENGTH);
            assert_ne!(handle.as_str(), token);
            assert!(!stored.starts_with(handle.as_str()));
            assert_eq!(handle.as_str().parse(), Ok(handle.clone()));
        }
    }

    #[test]
    fn hashed_ids_are_sha256_hex() {
        assert_eq!(
            SessionTokens::Hashed.stored_id(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
