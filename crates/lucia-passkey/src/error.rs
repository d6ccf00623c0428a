use webauthn_rs::prelude::WebauthnError;

/// What a passkey operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The relying-party id or origin is not valid (an origin must be `https`, or `http` on
    /// `localhost`, and within the relying-party id).
    #[error("invalid relying party settings: {0}")]
    Config(#[source] WebauthnError),
    /// No ceremony has this id: it never existed, was already finished (a replayed
    /// response), or expired. The client starts over.
    #[error("unknown or expired passkey ceremony")]
    UnknownCeremony,
    /// The ceremony was started for another purpose or another user than the one finishing it.
    #[error("passkey ceremony does not match")]
    CeremonyMismatch,
    /// The authenticator's response did not verify: wrong origin or relying party, another
    /// challenge, a bad signature, no user verification, or a malformed response. The
    /// ceremony is used up.
    #[error("passkey response rejected: {0}")]
    Rejected(#[source] WebauthnError),
    /// The credential is not registered here, or not to the user it names.
    #[error("unknown passkey")]
    UnknownPasskey,
    /// The credential's signature counter did not go up: it may have been cloned, or the same
    /// response raced another. The sign-in is refused and logged as a warning; the passkey
    /// stays registered (the application may tell its owner, or remove it).
    #[error("passkey counter did not advance: possibly a cloned credential")]
    PossibleClone {
        /// The passkey's credential id (base64url).
        passkey_id: String,
    },
    /// The new passkey's credential id is longer than
    /// [`MAX_CREDENTIAL_ID_CHARS`](crate::MAX_CREDENTIAL_ID_CHARS) characters in base64url
    /// (over 191 bytes), more than the stores' id columns hold (MySQL's `VARCHAR(255)` primary
    /// key of the SeaORM migration): the passkey was not stored, and the ceremony is used up.
    /// WebAuthn allows ids of up to 1023 bytes, but authenticators make ids of 16 to 64 bytes
    /// in practice; the user registers with another authenticator.
    #[error("passkey credential id too long")]
    CredentialIdTooLong,
    /// The credential is already registered (to this user or another).
    #[error("passkey already registered")]
    DuplicatePasskey,
    /// The passkey is the user's last way to sign in, so it was not removed.
    #[error("the last way to sign in cannot be removed")]
    LastSignInMethod,
    /// The user has no passkey with this id.
    #[error("no such passkey")]
    NotFound,
    /// A stored credential or ceremony state could not be read, or made.
    #[error("invalid stored passkey data: {0}")]
    InvalidData(String),
    /// The store or the session creation failed.
    #[error(transparent)]
    Lucia(#[from] lucia::Error),
}

impl From<lucia::AdapterError> for PasskeyError {
    fn from(error: lucia::AdapterError) -> Self {
        Self::Lucia(error.into())
    }
}
