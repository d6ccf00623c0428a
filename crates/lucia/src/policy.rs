//! [`PasswordPolicy`]: what a new password must be, checked before it is hashed.

use std::sync::Arc;

use crate::MAX_PASSWORD_BYTES;

/// An application's own check of a new password (a breached-password list, a rule about the
/// username, ...): `Err` carries the sentence to show the user.
type Check = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync + 'static>;

/// What a new password must be: applied by [`Lucia::create_user`](crate::Lucia::create_user)
/// (its key's password), [`create_key`](crate::Lucia::create_key),
/// [`update_key_password`](crate::Lucia::update_key_password) and
/// [`change_password`](crate::Lucia::change_password) before hashing, which refuse a password
/// that fails it with [`Error::PasswordRejected`](crate::Error::PasswordRejected). Set it with
/// [`LuciaBuilder::password_policy`](crate::LuciaBuilder::password_policy). Passwords already
/// stored are not checked again: signing in never fails for a policy reason.
///
/// The default: at least 8 characters, at most 256 bytes, no strength estimate, no
/// application check. The checks run in this order: length, strength, application check. The
/// strength estimate ([`zxcvbn`](https://docs.rs/zxcvbn)) and the application check run on a
/// hashing thread, not on an async worker.
///
/// ```
/// use lucia::{PasswordPolicy, PasswordRejection};
///
/// let breached = ["correct horse battery staple"];
/// let policy = PasswordPolicy::new()
///     .min_length(10)
///     .min_strength(3)
///     .check(move |password| {
///         if breached.contains(&password) {
///             Err("This password appeared in a data breach; choose another one.".into())
///         } else {
///             Ok(())
///         }
///     });
/// assert!(matches!(policy.check_password("short", &[]), Err(PasswordRejection::TooShort { min: 10 })));
/// assert!(matches!(policy.check_password("password123", &[]), Err(PasswordRejection::TooWeak { .. })));
/// assert!(matches!(policy.check_password("ada@example.com!", &["ada@example.com"]), Err(PasswordRejection::TooWeak { .. })));
/// assert!(matches!(policy.check_password("correct horse battery staple", &[]), Err(PasswordRejection::Refused(_))));
/// assert!(policy.check_password("plinth-oboe-marmalade-42", &[]).is_ok());
/// let rejection = policy.check_password("short", &[]).unwrap_err();
/// assert_eq!(rejection.to_string(), "The password must be at least 10 characters long.");
/// ```
#[derive(Clone)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_bytes: usize,
    min_strength: Option<u8>,
    check: Option<Check>,
}

/// The default minimum length, in characters.
const DEFAULT_MIN_CHARS: usize = 8;
/// The default maximum length, in bytes.
const DEFAULT_MAX_BYTES: usize = 256;

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_chars: DEFAULT_MIN_CHARS, max_bytes: DEFAULT_MAX_BYTES, min_strength: None, check: None }
    }
}

impl PasswordPolicy {
    /// The default policy: 8 characters to 256 bytes, nothing else.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fewest characters (Unicode scalar values) a password may have; at least 1, since
    /// an empty password could never be used to sign in (default 8).
    #[must_use]
    pub fn min_length(mut self, chars: usize) -> Self {
        self.min_chars = chars.max(1);
        self
    }

    /// The most bytes (UTF-8) a password may have, at most [`MAX_PASSWORD_BYTES`] (default
    /// 256).
    #[must_use]
    pub fn max_length(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.min(MAX_PASSWORD_BYTES);
        self
    }

    /// Refuses passwords whose `zxcvbn` score is below `score` (0 to 4; above 4 counts as 4):
    /// 2 refuses passwords guessed in 10^8 tries or fewer, 3 in 10^10 (zxcvbn's own advice).
    /// The key's provider user id (an email address, a username) counts as a guessable word.
    /// Off by default.
    #[must_use]
    pub fn min_strength(mut self, score: u8) -> Self {
        self.min_strength = Some(score.min(4));
        self
    }

    /// Adds the application's own check, run after the others: `Err(sentence)` refuses the
    /// password with [`PasswordRejection::Refused`] and that sentence, which is shown to the
    /// user. For example a breached-password list, or "not your username". It runs on a
    /// hashing thread, so it may block briefly (not on network I/O: keep it local).
    #[must_use]
    pub fn check(mut self, check: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.check = Some(Arc::new(check));
        self
    }

    /// The fewest characters a password may have.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// The most bytes a password may have.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Checks a new password: its length, then its strength against `user_inputs` (words an
    /// attacker would try first: the email address, the username), then the application's
    /// check. Blocking (the strength estimate takes milliseconds): from async code,
    /// [`Lucia`](crate::Lucia) runs it on a hashing thread.
    pub fn check_password(&self, password: &str, user_inputs: &[&str]) -> Result<(), PasswordRejection> {
        self.check_length(password)?;
        self.check_content(password, user_inputs)
    }

    pub(crate) fn check_length(&self, password: &str) -> Result<(), PasswordRejection> {
        if password.len() > self.max_bytes {
            return Err(PasswordRejection::TooLong { max: self.max_bytes });
        }
        if password.chars().count() < self.min_chars {
            return Err(PasswordRejection::TooShort { min: self.min_chars });
        }
        Ok(())
    }

    /// Whether [`check_content`](Self::check_content) does anything.
    pub(crate) fn has_content_checks(&self) -> bool {
        self.min_strength.is_some() || self.check.is_some()
    }

    pub(crate) fn check_content(&self, password: &str, user_inputs: &[&str]) -> Result<(), PasswordRejection> {
        if let Some(min) = self.min_strength {
            let estimate = zxcvbn::zxcvbn(password, user_inputs);
            let score = u8::from(estimate.score());
            if score < min {
                let feedback = estimate.feedback().map(ToString::to_string).filter(|text| !text.trim().is_empty());
                return Err(PasswordRejection::TooWeak { score, feedback });
            }
        }
        if let Some(check) = &self.check {
            check(password).map_err(PasswordRejection::Refused)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("min_chars", &self.min_chars)
            .field("max_bytes", &self.max_bytes)
            .field("min_strength", &self.min_strength)
            .field("check", &self.check.as_ref().map(|_| "<application check>"))
            .finish()
    }
}

/// Why a [`PasswordPolicy`] refused a new password. Its `Display` is a sentence for the user
/// (it never repeats the password).
///
/// ```
/// use lucia::PasswordRejection;
///
/// assert_eq!(
///     PasswordRejection::TooLong { max: 256 }.to_string(),
///     "The password must be at most 256 bytes long.",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordRejection {
    /// Fewer characters than [`PasswordPolicy::min_length`].
    #[error("The password must be at least {min} characters long.")]
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More bytes than [`PasswordPolicy::max_length`] (or [`MAX_PASSWORD_BYTES`]).
    #[error("The password must be at most {max} bytes long.")]
    TooLong {
        /// The maximum, in bytes.
        max: usize,
    },
    /// The strength estimate is below [`PasswordPolicy::min_strength`].
    #[error("{}", too_weak_message(feedback.as_deref()))]
    TooWeak {
        /// zxcvbn's score, 0 to 4.
        score: u8,
        /// zxcvbn's advice (what is wrong, how to do better), when it has some.
        feedback: Option<String>,
    },
    /// The application's check refused it; the sentence is the application's.
    #[error("{0}")]
    Refused(String),
}

fn too_weak_message(feedback: Option<&str>) -> String {
    match feedback {
        Some(feedback) => format!("The password is too easy to guess. {feedback}"),
        None => "The password is too easy to guess.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_characters_at_least_and_bytes_at_most() {
        let policy = PasswordPolicy::new();
        assert_eq!(policy.check_password("ééééééé", &[]), Err(PasswordRejection::TooShort { min: 8 }));
        assert_eq!(policy.check_password("éééééééé", &[]), Ok(()));
        assert_eq!(policy.check_password(&"é".repeat(128), &[]), Ok(()));
        assert_eq!(policy.check_password(&"é".repeat(129), &[]), Err(PasswordRejection::TooLong { max: 256 }));
        let empty = PasswordPolicy::new().min_length(0);
        assert_eq!(empty.check_password("", &[]), Err(PasswordRejection::TooShort { min: 1 }));
        let huge = PasswordPolicy::new().max_length(1 << 20);
        assert_eq!(huge.max_bytes(), MAX_PASSWORD_BYTES);
    }

    #[test]
    fn strength_uses_the_user_inputs_and_gives_feedback() {
        let policy = PasswordPolicy::new().min_strength(3);
        let Err(PasswordRejection::TooWeak { score, feedback }) = policy.check_password("password", &[]) else {
            panic!("a top password passed");
        };
        assert!(score < 3);
        assert!(feedback.is_some());
        let rejection = policy.check_password("zebra-Kumquat-1957", &["zebra-kumquat-1957"]);
        assert!(matches!(rejection, Err(PasswordRejection::TooWeak { .. })), "{rejection:?}");
        assert_eq!(policy.check_password("zebra-Kumquat-1957", &[]), Ok(()));
        // Off by default.
        assert_eq!(PasswordPolicy::new().check_password("password", &[]), Ok(()));
    }

    #[test]
    fn the_application_check_runs_last_and_its_sentence_is_shown() {
        let policy = PasswordPolicy::new().check(|p| if p == "breached1" { Err("Breached.".into()) } else { Ok(()) });
        assert_eq!(policy.check_password("breached1", &[]), Err(PasswordRejection::Refused("Breached.".into())));
        assert_eq!(policy.check_password("breached", &[]), Ok(()));
        assert_eq!(policy.check_password("short", &[]), Err(PasswordRejection::TooShort { min: 8 }));
        assert!(!format!("{policy:?}").contains("breached"));
    }
}
