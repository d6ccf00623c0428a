//! Keys: the ways a user signs in.

/// A way to sign in: `provider_id:provider_user_id`, optionally with a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// For example `"email"` or `"github"`. Never contains `:`.
    pub provider_id: String,
    /// For example an email address or an OAuth subject. May contain `:`.
    pub provider_user_id: String,
    /// The owning user.
    pub user_id: String,
    /// Whether the key has a password.
    pub password_defined: bool,
}

impl Key {
    pub(crate) fn from_database(key: crate::DatabaseKey) -> Self {
        // Everything after the first ':' is the provider user id, as in Lucia v2.
        let (provider_id, provider_user_id) = match key.id.split_once(':') {
            Some((provider, user)) => (provider.to_owned(), user.to_owned()),
            None => (key.id, String::new()),
        };
        Self {
            provider_id,
            provider_user_id,
            user_id: key.user_id,
            password_defined: key.hashed_password.is_some_and(|hash| !hash.is_empty()),
        }
    }
}

/// Joins a provider id and a provider user id into a key id, as Lucia v2's `createKeyId`.
///
/// A provider id containing `:` is [`Error::InvalidProviderId`](crate::Error::InvalidProviderId);
/// an id no key can have is [`Error::InvalidKeyId`](crate::Error::InvalidKeyId): one containing
/// a NUL character (PostgreSQL cannot even store it), or ending in a space (MySQL/MariaDB
/// would find the key without the space: trim user input such as addresses first).
///
/// ```
/// assert_eq!(lucia::create_key_id("email", "a:b").unwrap(), "email:a:b");
/// assert!(matches!(lucia::create_key_id("e:mail", "x"), Err(lucia::Error::InvalidProviderId)));
/// assert!(matches!(lucia::create_key_id("email", "a\0"), Err(lucia::Error::InvalidKeyId)));
/// assert!(matches!(lucia::create_key_id("email", "a@example.com "), Err(lucia::Error::InvalidKeyId)));
/// ```
pub fn create_key_id(provider_id: &str, provider_user_id: &str) -> Result<String, crate::Error> {
    if provider_id.contains(':') {
        return Err(crate::Error::InvalidProviderId);
    }
    let key_id = format!("{provider_id}:{provider_user_id}");
    if !crate::auth::is_storable_id(&key_id) {
        return Err(crate::Error::InvalidKeyId);
    }
    Ok(key_id)
}
