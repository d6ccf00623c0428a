//! Errors returned by [`Lucia`](crate::Lucia) and by adapters.

/// A boxed error from a database driver or another lower layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a [`Lucia`](crate::Lucia) method can fail with.
///
/// The first seven variants are Lucia v2's error codes; [`Error::code`] returns the code string
/// (`"AUTH_INVALID_SESSION_ID"`, ...) for callers that share logs or APIs with a Lucia v2
/// application. The rest are conditions Lucia v2 left as raw driver errors or exceptions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session id is empty, too long, unknown, or the session is dead
    /// (past its idle period). Code `AUTH_INVALID_SESSION_ID`.
    #[error("invalid session id")]
    InvalidSessionId,
    /// The password is wrong, missing for a key that has one, given for a key that has none,
    /// or longer than [`MAX_PASSWORD_BYTES`](crate::MAX_PASSWORD_BYTES) (refused before any
    /// hashing). Code `AUTH_INVALID_PASSWORD`.
    #[error("invalid password")]
    InvalidPassword,
    /// A key with this id already exists. Code `AUTH_DUPLICATE_KEY_ID`.
    #[error("duplicate key id")]
    DuplicateKeyId,
    /// No key with this id exists. Code `AUTH_INVALID_KEY_ID`.
    #[error("invalid key id")]
    InvalidKeyId,
    /// No user with this id exists. Code `AUTH_INVALID_USER_ID`.
    #[error("invalid user id")]
    InvalidUserId,
    /// The stored hash is a bcrypt (`$2a`) hash from a Lucia beta; the password must be reset.
    /// Code `AUTH_OUTDATED_PASSWORD`.
    #[error("outdated password hash")]
    OutdatedPassword,
    /// A request failed the CSRF origin check. Code `AUTH_INVALID_REQUEST`.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] crate::csrf::OriginError),
    /// A user with this id already exists. Lucia v2 misreported this as a duplicate key id.
    #[error("duplicate user id")]
    DuplicateUserId,
    /// A session with this id already exists.
    #[error("duplicate session id")]
    DuplicateSessionId,
    /// A provider id contains `:`, which would make the key id ambiguous.
    #[error("provider id must not contain ':'")]
    InvalidProviderId,
    /// A unique attribute column, such as `username`, already holds the value. `column` names
    /// it when the store can tell. The message never carries the database's own text.
    #[error("{}", duplicate_attribute_message(column.as_deref()))]
    DuplicateAttribute {
        /// The attribute column whose value is taken, when the store can tell.
        column: Option<String>,
    },
    /// Attributes could not be stored or read: not a JSON object, a reserved or unknown
    /// column name, a value of the wrong type, or a row that does not deserialize into the
    /// attribute type.
    #[error("invalid attributes: {0}")]
    InvalidAttributes(String),
    /// A new password does not satisfy the [`PasswordPolicy`](crate::PasswordPolicy) (too
    /// short, too long, too weak, or refused by the application's check); nothing was written.
    /// The [`PasswordRejection`](crate::PasswordRejection)'s `Display` is a sentence for the
    /// user.
    #[error("password rejected: {0}")]
    PasswordRejected(crate::PasswordRejection),
    /// Too many passwords are being hashed and waiting to be: the hashing threads are all busy
    /// and the queue ([`LuciaBuilder::hashing_queue`](crate::LuciaBuilder::hashing_queue)) is
    /// full. Nothing was hashed or written; the request may succeed in a moment (HTTP 503 with
    /// `Retry-After`).
    #[error("too many password hashes at once; try again shortly")]
    Busy,
    /// The password hasher failed (not a wrong password: that is [`Error::InvalidPassword`]).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// The database or another store failed.
    #[error("database error: {0}")]
    Database(#[source] BoxError),
    /// Too many sign-in attempts on this key: [`Lucia::use_key`](crate::Lucia::use_key) and
    /// [`Lucia::sign_in`](crate::Lucia::sign_in) refuse it before any lookup or hashing
    /// (see [`Backoff`](crate::Backoff)). Unknown keys are throttled exactly like known ones,
    /// so this says nothing about whether the key exists. lucia-axum answers `429` with
    /// `Retry-After`.
    #[error("too many sign-in attempts: retry after {retry_after:?}")]
    Throttled {
        /// How long until the next attempt on this key is allowed.
        retry_after: std::time::Duration,
    },
    /// A verification code or password-reset token is wrong, unknown, already used, replaced by
    /// a newer one, or no longer matches the user's address.
    #[error("invalid or used token")]
    InvalidToken,
    /// A verification code or password-reset token has expired, or a code was tried too many
    /// times: issue a new one.
    #[error("expired token")]
    ExpiredToken,
    /// The user has a confirmed second factor, so a password alone signs them in no more:
    /// [`Lucia::sign_in`](crate::Lucia::sign_in) started nothing. Sign in with
    /// [`Lucia::sign_in_with_second_factor`](crate::Lucia::sign_in_with_second_factor). Only
    /// answered after the right password.
    #[error("a second factor is required")]
    SecondFactorRequired,
    /// A TOTP or recovery code is wrong, was already used (a TOTP code in its step, a recovery
    /// code ever), or the user has no (confirmed) TOTP.
    #[error("invalid second-factor code")]
    InvalidSecondFactor,
    /// The user's TOTP is already confirmed: disable it before enrolling again.
    #[error("a second factor is already enabled")]
    SecondFactorAlreadyEnabled,
    /// A second-factor method was called on a `Lucia` built without
    /// [`LuciaBuilder::second_factor`](crate::LuciaBuilder::second_factor).
    #[error("no second factor is configured")]
    SecondFactorNotConfigured,
    /// The store could not be reached (connection refused or lost, or no answer in time):
    /// the request may succeed later. Nothing is known about the session or credential, so
    /// callers should answer "try again" (HTTP 503), not sign the user out.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
}

impl Error {
    /// The Lucia v2 error code for this error, or `None` for errors Lucia v2 had no code for.
    ///
    /// ```
    /// assert_eq!(lucia::Error::InvalidKeyId.code(), Some("AUTH_INVALID_KEY_ID"));
    /// assert_eq!(lucia::Error::DuplicateUserId.code(), None);
    /// ```
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidSessionId => "AUTH_INVALID_SESSION_ID",
            Self::InvalidPassword => "AUTH_INVALID_PASSWORD",
            Self::DuplicateKeyId => "AUTH_DUPLICATE_KEY_ID",
            Self::InvalidKeyId => "AUTH_INVALID_KEY_ID",
            Self::InvalidUserId => "AUTH_INVALID_USER_ID",
            Self::OutdatedPassword => "AUTH_OUTDATED_PASSWORD",
            Self::InvalidRequest(_) => "AUTH_INVALID_REQUEST",
            _ => return None,
        })
    }
}

fn duplicate_attribute_message(column: Option<&str>) -> String {
    match column {
        Some(column) => format!("the value of attribute `{column}` is already taken"),
        None => "a unique attribute value is already taken".to_owned(),
    }
}

/// What an adapter method can fail with.
///
/// Adapters report the conditions the core must tell apart as their own variants, detected
/// from the database's error codes or from which statement failed, never from message text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// Inserting a key violated the key table's primary key.
    #[error("duplicate key id")]
    DuplicateKeyId,
    /// Inserting a user violated the user table's primary key.
    #[error("duplicate user id")]
    DuplicateUserId,
    /// Inserting a session violated the session table's primary key.
    #[error("duplicate session id")]
    DuplicateSessionId,
    /// A key or session refers to a user that does not exist (foreign key violation).
    #[error("invalid user id")]
    InvalidUserId,
    /// Another unique constraint was violated (a unique attribute column). `column` names the
    /// column when the adapter can tell which, without reading the database's message text.
    #[error("{}", duplicate_attribute_message(column.as_deref()))]
    DuplicateAttribute {
        /// The attribute column whose value is taken, when the adapter can tell.
        column: Option<String>,
    },
    /// An attribute names no column, or its value does not fit the column's type, or a stored
    /// value could not be read.
    #[error("invalid attributes: {0}")]
    InvalidAttributes(String),
    /// Any other failure of the store.
    #[error("database error: {0}")]
    Database(#[source] BoxError),
    /// The store could not be reached: connection refused or lost, no answer in time, or no
    /// free connection in the pool. Adapters report it so that an outage is told apart from
    /// a failed statement (see [`Error::Unavailable`]).
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
}

impl AdapterError {
    /// Wraps any driver error as [`AdapterError::Database`].
    pub fn database(error: impl Into<BoxError>) -> Self {
        Self::Database(error.into())
    }

    /// Wraps a connection failure as [`AdapterError::Unavailable`].
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        Self::Unavailable(error.into())
    }
}

impl From<AdapterError> for Error {
    fn from(error: AdapterError) -> Self {
        match error {
            AdapterError::DuplicateKeyId => Self::DuplicateKeyId,
            AdapterError::DuplicateUserId => Self::DuplicateUserId,
            AdapterError::DuplicateSessionId => Self::DuplicateSessionId,
            AdapterError::InvalidUserId => Self::InvalidUserId,
            AdapterError::DuplicateAttribute { column } => Self::DuplicateAttribute { column },
            AdapterError::InvalidAttributes(message) => Self::InvalidAttributes(message),
            AdapterError::Database(source) => Self::Database(source),
            AdapterError::Unavailable(source) => Self::Unavailable(source),
        }
    }
}
