//! Passkeys (WebAuthn) for `lucia`, on [`webauthn-rs`](webauthn_rs): a signed-in user
//! registers passkeys, then signs in with one alone (a discoverable credential: no user name
//! typed) or uses one as a second factor; passkeys are listed, renamed and removed, never the
//! user's last way to sign in.
//!
//! Every ceremony has two steps. `start_*` makes a random challenge, keeps the ceremony's
//! state in the store (through [`PasskeyAdapter`], hashed id, five minutes by default) and
//! returns a [`Ceremony`]: its [`id`](Ceremony::id) goes back to the client with the
//! [`options`](Ceremony::options) for `navigator.credentials.create()` or `.get()`, and
//! `finish_*` takes the id and the browser's response. Finishing uses the ceremony up first,
//! so a response cannot be replayed, even one that failed: a response that did not verify
//! (made at another origin, by a page that relayed the challenge) gets no second try at the
//! same challenge. Only the client that started a ceremony holds its id, so no one else can
//! use it up. A caller that refuses a request for reasons of its own (a CSRF check, a
//! session cookie it may not set) does so before calling `finish_*`, which leaves the
//! ceremony for a retry.
//!
//! **Registering a passkey needs a recent sign-in, which the caller checks.** A passkey is a
//! way in that outlives a password reset: registered with a stolen session cookie, it keeps
//! the thief signed in after the victim resets the password. So before
//! [`start_registration`](Passkeys::start_registration) and again before
//! [`finish_registration`](Passkeys::finish_registration), check that the session signed in
//! within the last minutes (the application records when: a session attribute set at sign-in),
//! and otherwise send the user to sign in again. Check it too before
//! [`remove`](Passkeys::remove): a stolen session must not take the owner's passkeys away.
//! lucia-axum's `PasskeyRoutes` does both (its `signed_in_at` argument; the check is
//! lucia-axum's `RecentSignIn`).
//!
//! A credential id is stored as the passkey's id in base64url, at most
//! [`MAX_CREDENTIAL_ID_CHARS`] characters (191 bytes): what MySQL's `VARCHAR(255)` primary key
//! holds. WebAuthn allows up to 1023 bytes, but authenticators make ids of 16 to 64 bytes; a
//! longer one is refused at registration ([`PasskeyError::CredentialIdTooLong`]).
//!
//! Each use of a passkey updates its stored signature counter and backup state in one
//! conditional update; a counter that does not go up (a cloned authenticator) is refused
//! ([`PasskeyError::PossibleClone`]) and logged as a warning.
//!
//! The relying party is the site's registrable domain or a host under it (`example.com`) and
//! the exact origin the pages are served from (`https://example.com`): see
//! [`RelyingParty`].
//!
//! Every flow, end to end, with a software authenticator standing in for the browser (1Password's
//! `passkey` crate, as in this crate's tests; its setup is hidden):
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey, memory::MemoryAdapter};
//! use lucia_passkey::{PasskeyError, Passkeys, RelyingParty, url::Url};
//! # use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
//! # use passkey::client::{Client, DefaultClientData};
//! # use passkey::crypto::rust_crypto::RustCryptoBackend;
//! # use passkey::types::{Passkey, ctap2::{Aaguid, Ctap2Error}, webauthn as pk};
//! # struct Verified;
//! # #[async_trait::async_trait]
//! # impl UserValidationMethod for Verified {
//! #     type PasskeyItem = Passkey;
//! #     async fn check_user<'a>(&self, _: UiHint<'a, Passkey>, _: bool, _: bool) -> Result<UserCheck, Ctap2Error> {
//! #         Ok(UserCheck { presence: true, verification: true })
//! #     }
//! #     fn is_verification_enabled(&self) -> Option<bool> { Some(true) }
//! #     fn is_presence_enabled(&self) -> bool { true }
//! # }
//! # fn json<T: serde::Serialize, R: serde::de::DeserializeOwned>(value: &T) -> R {
//! #     serde_json::from_value(serde_json::to_value(value).unwrap()).unwrap()
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), PasskeyError> {
//! # let origin = Url::parse("https://example.com").unwrap();
//! # let mut browser = Client::new(Authenticator::new(Aaguid::new_empty(), None::<Passkey>, Verified, RustCryptoBackend));
//! let auth = Lucia::builder(MemoryAdapter::new()).build();
//! let relying_party = RelyingParty::new("example.com", Url::parse("https://example.com").expect("a URL"));
//! let passkeys = Passkeys::new(auth.clone(), relying_party.name("Example"))?;
//! let key = NewKey::password("email", "ada@example.com", "correct horse battery staple");
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await?;
//!
//! // A user who signed in moments ago (checked by the caller: see above) adds a passkey:
//! // `ceremony.id()` and `ceremony.options()` go to the
//! // browser, which calls `navigator.credentials.create(options)` and sends back the
//! // credential with the ceremony id.
//! let ceremony = passkeys.start_registration(&user.user_id, "ada@example.com", "Ada").await?;
//! # let created = browser.register(&origin, json::<_, pk::CredentialCreationOptions>(ceremony.options()), DefaultClientData).await.unwrap();
//! # let response = json(&created);
//! let added = passkeys.finish_registration(&user.user_id, ceremony.id(), &response, "Laptop").await?;
//!
//! // "Sign in with a passkey": no user name; a session as `Lucia::sign_in` makes.
//! let ceremony = passkeys.start_sign_in().await?;
//! # let asserted = browser.authenticate(&origin, json::<_, pk::CredentialRequestOptions>(ceremony.options()), DefaultClientData).await.unwrap();
//! # let response = json(&asserted);
//! let signed_in = passkeys.sign_in(ceremony.id(), &response, Default::default()).await?;
//! assert_eq!(signed_in.session.user.user_id, user.user_id);
//! // The same response again: its ceremony is used up.
//! let replayed = passkeys.sign_in(ceremony.id(), &response, Default::default()).await;
//! assert!(matches!(replayed, Err(PasskeyError::UnknownCeremony)));
//!
//! // A passkey as the second factor of a user who gave their password.
//! let ceremony = passkeys.start_second_factor(&user.user_id).await?;
//! # let asserted = browser.authenticate(&origin, json::<_, pk::CredentialRequestOptions>(ceremony.options()), DefaultClientData).await.unwrap();
//! # let response = json(&asserted);
//! let verified = passkeys.verify_second_factor(&user.user_id, ceremony.id(), &response).await?;
//! assert_eq!(verified.passkey_id, added.id);
//!
//! // The account page: list, rename, remove (refused for the last way to sign in).
//! assert_eq!(passkeys.list(&user.user_id).await?.len(), 1);
//! passkeys.rename(&user.user_id, &added.id, "Work laptop").await?;
//! passkeys.remove(&user.user_id, &added.id).await?; // the password key remains
//! # Ok(())
//! # }
//! ```
//!
//! The flows run end to end with a software authenticator in this crate's tests
//! (`tests/common`, run over the memory adapter by `tests/memory.rs` and over SeaORM's
//! databases by its adapter's tests).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lucia::{
    Adapter, CreateSession, DatabasePasskey, Lucia, NewSession, PasskeyAdapter, PasskeyChallenge, PasskeyUse,
    SessionTokens, SignInMethodDeletion,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

pub use error::PasskeyError;
/// The `url` crate, whose [`Url`](url::Url) names the relying party's origin.
pub use url;
/// The `webauthn-rs` crate: the request and response types of the ceremonies
/// ([`webauthn_rs::prelude::RegisterPublicKeyCredential`], ...).
pub use webauthn_rs;

/// How long a ceremony may take by default: the WebAuthn recommended timeout.
pub const DEFAULT_CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest a passkey's name may be, in characters; longer names are cut.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;
/// The longest credential id a passkey may have, in base64url characters (191 bytes): the
/// stores' id columns hold 255 characters (MySQL's `VARCHAR(255)` primary key of the SeaORM
/// migration). A longer one is [`PasskeyError::CredentialIdTooLong`] at registration.
pub const MAX_CREDENTIAL_ID_CHARS: usize = 255;
/// Characters in a ceremony id (`[a-z0-9]`, about 206 bits).
const CEREMONY_ID_LENGTH: usize = 40;

/// The relying party: who the passkeys are for.
///
/// ```
/// use lucia_passkey::{RelyingParty, url::Url};
/// let origin = Url::parse("https://login.example.com").expect("a URL");
/// let relying_party = RelyingParty::new("example.com", origin).name("Example");
/// ```
#[derive(Debug, Clone)]
pub struct RelyingParty {
    id: String,
    origin: url::Url,
    name: Option<String>,
    other_origins: Vec<url::Url>,
    ceremony_lifetime: Duration,
}

impl RelyingParty {
    /// The relying-party id (a domain: the site's host, or a registrable domain above it;
    /// passkeys are bound to it and cannot be moved to another) and the origin the sign-in
    /// pages are served from (`https://...`, or `http://localhost:...` in development).
    /// Responses from any other origin are refused.
    pub fn new(id: impl Into<String>, origin: url::Url) -> Self {
        Self {
            id: id.into(),
            origin,
            name: None,
            other_origins: Vec::new(),
            ceremony_lifetime: DEFAULT_CEREMONY_LIFETIME,
        }
    }

    /// The name authenticators show (default: the relying-party id).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Accepts responses from another origin too (another host under the relying-party id).
    #[must_use]
    pub fn allow_origin(mut self, origin: url::Url) -> Self {
        self.other_origins.push(origin);
        self
    }

    /// How long a ceremony may take (default [`DEFAULT_CEREMONY_LIFETIME`]), also sent to the
    /// browser as the timeout.
    #[must_use]
    pub fn ceremony_lifetime(mut self, lifetime: Duration) -> Self {
        self.ceremony_lifetime = lifetime;
        self
    }
}

/// A ceremony in progress, from a `start_*` method: send [`id`](Self::id) and
/// [`options`](Self::options) to the client, and pass the id back to the `finish_*` method.
/// `Debug` does not show the id.
pub struct Ceremony<T> {
    id: String,
    options: T,
}

impl<T> Ceremony<T> {
    /// The ceremony's id: a random secret, for this client only (the store keeps its hash).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The options for the browser: the JSON of
    /// `navigator.credentials.create({ publicKey })` or `.get(...)`.
    pub fn options(&self) -> &T {
        &self.options
    }

    /// The id and the options.
    pub fn into_parts(self) -> (String, T) {
        (self.id, self.options)
    }
}

impl<T: fmt::Debug> fmt::Debug for Ceremony<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ceremony").field("id", &"<redacted>").field("options", &self.options).finish()
    }
}

/// A user's passkey, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PasskeyInfo {
    /// The credential id (base64url): the passkey's id in [`Passkeys::remove`] and
    /// [`Passkeys::rename`].
    pub id: String,
    /// The name the user gave it.
    pub name: String,
    /// Whether it may be synced to the user's other devices.
    pub backup_eligible: bool,
    /// Whether it was synced when last seen.
    pub backup_state: bool,
    /// When it was registered, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was last used, in milliseconds since the Unix epoch.
    pub last_used_at: Option<i64>,
}

impl From<DatabasePasskey> for PasskeyInfo {
    fn from(row: DatabasePasskey) -> Self {
        Self {
            id: row.id,
            name: row.name,
            backup_eligible: row.backup_eligible,
            backup_state: row.backup_state,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// A passkey that verified: whose it is and which it was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedPasskey {
    /// The user who signed in.
    pub user_id: String,
    /// The passkey's credential id (base64url).
    pub passkey_id: String,
}

/// The server's half of a ceremony, as stored: which ceremony it is, and webauthn-rs's state.
#[derive(Serialize, Deserialize)]
enum CeremonyState {
    Registration(PasskeyRegistration),
    SignIn(DiscoverableAuthentication),
    SecondFactor(PasskeyAuthentication),
}

/// The stored credential's backup flags: webauthn-rs exposes them only in its serialization.
#[derive(Deserialize)]
struct StoredCredential {
    cred: StoredFlags,
}

#[derive(Deserialize)]
struct StoredFlags {
    counter: u32,
    backup_eligible: bool,
    backup_state: bool,
}

/// Passkey ceremonies for one relying party over a [`Lucia`] whose store keeps passkeys.
/// Cheap to clone.
pub struct Passkeys<A, U = lucia::NoAttributes, S = lucia::NoAttributes> {
    lucia: Lucia<A, U, S>,
    webauthn: Arc<Webauthn>,
    ceremony_lifetime: Duration,
    uncounted_key_providers: Arc<[String]>,
}

impl<A, U, S> Clone for Passkeys<A, U, S> {
    fn clone(&self) -> Self {
        Self {
            lucia: self.lucia.clone(),
            webauthn: Arc::clone(&self.webauthn),
            ceremony_lifetime: self.ceremony_lifetime,
            uncounted_key_providers: Arc::clone(&self.uncounted_key_providers),
        }
    }
}

impl<A, U, S> fmt::Debug for Passkeys<A, U, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passkeys")
            .field("origins", &self.webauthn.get_allowed_origins())
            .field("ceremony_lifetime", &self.ceremony_lifetime)
            .field("uncounted_key_providers", &self.uncounted_key_providers)
            .finish_non_exhaustive()
    }
}

impl<A, U, S> Passkeys<A, U, S>
where
    A: Adapter + PasskeyAdapter,
    U: Serialize + DeserializeOwned + Send + Sync,
    S: Serialize + DeserializeOwned + Send + Sync,
{
    /// Passkeys of `lucia`'s users, for this relying party. An origin that is not within the
    /// relying-party id, or not `https` (but for `localhost`), is [`PasskeyError::Config`].
    pub fn new(lucia: Lucia<A, U, S>, relying_party: RelyingParty) -> Result<Self, PasskeyError> {
        let mut builder =
            WebauthnBuilder::new(&relying_party.id, &relying_party.origin).map_err(PasskeyError::Config)?;
        builder = builder.timeout(relying_party.ceremony_lifetime);
        if let Some(name) = &relying_party.name {
            builder = builder.rp_name(name);
        }
        for origin in &relying_party.other_origins {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder.build().map_err(PasskeyError::Config)?;
        Ok(Self {
            lucia,
            webauthn: Arc::new(webauthn),
            ceremony_lifetime: relying_party.ceremony_lifetime,
            uncounted_key_providers: Arc::from([]),
        })
    }

    /// Key providers whose keys find a user but sign no one in (an `email` key without a
    /// password, used only to find the account for a reset): [`remove`](Self::remove) does not
    /// count them as a way to sign in, so a user is not left with only such a key. The same
    /// list as [`Lucia::delete_key_unless_last`]'s `uncounted_providers`.
    #[must_use]
    pub fn uncounted_key_providers<P: Into<String>>(mut self, providers: impl IntoIterator<Item = P>) -> Self {
        self.uncounted_key_providers = providers.into_iter().map(Into::into).collect();
        self
    }

    /// The `Lucia` the passkeys' users and sessions belong to.
    pub fn lucia(&self) -> &Lucia<A, U, S> {
        &self.lucia
    }

    // ---- registration ---------------------------------------------------------------------

    /// Starts adding a passkey for a signed-in user: options for
    /// `navigator.credentials.create()` asking for a discoverable credential with user
    /// verification, excluding the user's passkeys (an authenticator that holds one says so
    /// instead of making another). `user_name` and `display_name` are what the authenticator
    /// shows (an email address, a name); the user id is sent only as a hash.
    ///
    /// **Check first that the user signed in recently** (see the [crate docs](crate)): a
    /// session alone may be a stolen cookie, and the passkey it registers would outlive a
    /// password reset.
    pub async fn start_registration(
        &self,
        user_id: &str,
        user_name: &str,
        display_name: &str,
    ) -> Result<Ceremony<CreationChallengeResponse>, PasskeyError> {
        self.lucia.get_user(user_id).await?;
        let registered = self.lucia.adapter().get_user_passkeys(user_id).await?;
        let exclude = registered.iter().filter_map(|passkey| URL_SAFE_NO_PAD.decode(&passkey.id).ok()).collect();
        let (mut options, state) = self
            .webauthn
            .start_passkey_registration(user_handle(user_id), user_name, display_name, Some(exclude))
            .map_err(PasskeyError::Rejected)?;
        // A passkey signs in without a user name: it must be discoverable. webauthn-rs asks for
        // "discouraged" (security keys have few slots), which would make sign-in without a user
        // name fail on authenticators that follow it.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        let id = self.save_ceremony(Some(user_id), CeremonyState::Registration(state)).await?;
        Ok(Ceremony { id, options })
    }

    /// Finishes adding a passkey: verifies the browser's response against the ceremony
    /// (challenge, origin, relying party, user verification) and stores the passkey under
    /// `name` (cut to [`MAX_PASSKEY_NAME_CHARS`]). The ceremony must be the user's own. A
    /// credential id longer than [`MAX_CREDENTIAL_ID_CHARS`] in base64url is
    /// [`PasskeyError::CredentialIdTooLong`], and nothing is stored.
    ///
    /// **Check again that the user signed in recently**, as before
    /// [`start_registration`](Self::start_registration): the ceremony is bound to the user,
    /// not to the session that started it.
    pub async fn finish_registration(
        &self,
        user_id: &str,
        ceremony_id: &str,
        response: &RegisterPublicKeyCredential,
        name: &str,
    ) -> Result<PasskeyInfo, PasskeyError> {
        let CeremonyState::Registration(state) = self.take_ceremony(ceremony_id, Some(user_id)).await? else {
            return Err(PasskeyError::CeremonyMismatch);
        };
        let passkey = self.webauthn.finish_passkey_registration(response, &state).map_err(PasskeyError::Rejected)?;
        let id = passkey_id(passkey.cred_id()).ok_or(PasskeyError::CredentialIdTooLong)?;
        let credential = serde_json::to_string(&passkey).map_err(invalid_data)?;
        let flags = stored_flags(&credential)?;
        let row = DatabasePasskey {
            id,
            user_id: user_id.to_owned(),
            name: passkey_name(name),
            credential,
            counter: flags.counter,
            backup_eligible: flags.backup_eligible,
            backup_state: flags.backup_state,
            created_at: self.now_ms(),
            last_used_at: None,
        };
        match self.lucia.adapter().insert_passkey(row.clone()).await {
            Ok(()) => Ok(row.into()),
            Err(lucia::AdapterError::DuplicateKeyId) => Err(PasskeyError::DuplicatePasskey),
            Err(error) => Err(error.into()),
        }
    }

    // ---- sign-in ----------------------------------------------------------------------------

    /// Starts a sign-in with a passkey alone: options for `navigator.credentials.get()` with
    /// no credential listed (the browser offers the site's passkeys) and
    /// `mediation: "conditional"` (passkeys offered in the user name field's autofill; a
    /// "Sign in with a passkey" button drops `mediation` and calls `.get()` directly).
    pub async fn start_sign_in(&self) -> Result<Ceremony<RequestChallengeResponse>, PasskeyError> {
        let (options, state) = self.webauthn.start_discoverable_authentication().map_err(PasskeyError::Rejected)?;
        let id = self.save_ceremony(None, CeremonyState::SignIn(state)).await?;
        Ok(Ceremony { id, options })
    }

    /// Finishes a sign-in with a passkey alone and starts a session, as
    /// [`Lucia::create_session`] does (with these session attributes).
    pub async fn sign_in(
        &self,
        ceremony_id: &str,
        response: &PublicKeyCredential,
        attributes: S,
    ) -> Result<NewSession<U, S>, PasskeyError> {
        let verified = self.verify_sign_in(ceremony_id, response).await?;
        Ok(self.lucia.create_session(CreateSession::new(verified.user_id, attributes)).await?)
    }

    /// Finishes a sign-in with a passkey alone without starting a session: says whose passkey
    /// it was, for an application that does more before it signs the user in.
    pub async fn verify_sign_in(
        &self,
        ceremony_id: &str,
        response: &PublicKeyCredential,
    ) -> Result<VerifiedPasskey, PasskeyError> {
        let CeremonyState::SignIn(state) = self.take_ceremony(ceremony_id, None).await? else {
            return Err(PasskeyError::CeremonyMismatch);
        };
        let (handle, credential_id) =
            self.webauthn.identify_discoverable_authentication(response).map_err(PasskeyError::Rejected)?;
        let row = self.stored_passkey(credential_id).await?;
        if user_handle(&row.user_id) != handle {
            return Err(PasskeyError::UnknownPasskey);
        }
        let passkey = parse_passkey(&row.credential)?;
        let result = self.webauthn.finish_discoverable_authentication_v2(response, state, &passkey);
        self.record_use(row, passkey, result).await
    }

    /// Starts checking a passkey as a second factor of a user who passed a first one (a
    /// password): options for `navigator.credentials.get()` listing the user's passkeys.
    /// A user without passkeys is [`PasskeyError::NotFound`].
    pub async fn start_second_factor(&self, user_id: &str) -> Result<Ceremony<RequestChallengeResponse>, PasskeyError> {
        let rows = self.lucia.adapter().get_user_passkeys(user_id).await?;
        if rows.is_empty() {
            return Err(PasskeyError::NotFound);
        }
        let passkeys = rows.iter().map(|row| parse_passkey(&row.credential)).collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self.webauthn.start_passkey_authentication(&passkeys).map_err(PasskeyError::Rejected)?;
        let id = self.save_ceremony(Some(user_id), CeremonyState::SecondFactor(state)).await?;
        Ok(Ceremony { id, options })
    }

    /// Finishes checking a passkey as the second factor of `user_id`: the ceremony must be
    /// that user's, and the passkey one of theirs. Starts no session: the two-step sign-in
    /// that called it does.
    pub async fn verify_second_factor(
        &self,
        user_id: &str,
        ceremony_id: &str,
        response: &PublicKeyCredential,
    ) -> Result<VerifiedPasskey, PasskeyError> {
        let CeremonyState::SecondFactor(state) = self.take_ceremony(ceremony_id, Some(user_id)).await? else {
            return Err(PasskeyError::CeremonyMismatch);
        };
        let row = self.stored_passkey(&response.raw_id).await?;
        if row.user_id != user_id {
            return Err(PasskeyError::UnknownPasskey);
        }
        let passkey = parse_passkey(&row.credential)?;
        let result = self.webauthn.finish_passkey_authentication(response, &state);
        self.record_use(row, passkey, result).await
    }

    // ---- management -----------------------------------------------------------------------

    /// The user's passkeys, oldest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<PasskeyInfo>, PasskeyError> {
        let rows = self.lucia.adapter().get_user_passkeys(user_id).await?;
        Ok(rows.into_iter().map(PasskeyInfo::from).collect())
    }

    /// Renames one of the user's passkeys (the name is cut to [`MAX_PASSKEY_NAME_CHARS`]).
    pub async fn rename(&self, user_id: &str, passkey_id: &str, name: &str) -> Result<(), PasskeyError> {
        match self.lucia.adapter().rename_passkey(user_id, passkey_id, &passkey_name(name)).await? {
            true => Ok(()),
            false => Err(PasskeyError::NotFound),
        }
    }

    /// Removes one of the user's passkeys, unless it is their last way to sign in (no key but
    /// those of [`uncounted_key_providers`](Self::uncounted_key_providers), and no other
    /// passkey): [`PasskeyError::LastSignInMethod`]. One transaction under the user's lock, so
    /// a removal of another passkey or a key at the same time
    /// ([`Lucia::delete_key_unless_last`]) cannot leave the user with none. The passkey stays
    /// on the user's devices, where it no longer works here. **Check first that the user
    /// signed in recently**, as for a registration (see the [crate docs](crate)).
    pub async fn remove(&self, user_id: &str, passkey_id: &str) -> Result<(), PasskeyError> {
        let uncounted: Vec<&str> = self.uncounted_key_providers.iter().map(String::as_str).collect();
        match self.lucia.adapter().delete_passkey(user_id, passkey_id, &uncounted).await? {
            SignInMethodDeletion::Deleted => Ok(()),
            SignInMethodDeletion::NotFound => Err(PasskeyError::NotFound),
            SignInMethodDeletion::LastSignInMethod => Err(PasskeyError::LastSignInMethod),
        }
    }

    /// Deletes the ceremonies that expired unfinished, and returns how many: run it now and
    /// then (with the session sweep).
    pub async fn delete_expired_ceremonies(&self) -> Result<u64, PasskeyError> {
        Ok(self.lucia.adapter().delete_expired_passkey_challenges(self.now_ms()).await?)
    }

    // ---- internals --------------------------------------------------------------------------

    fn now_ms(&self) -> i64 {
        millis(self.lucia.config().now())
    }

    async fn save_ceremony(&self, user_id: Option<&str>, state: CeremonyState) -> Result<String, PasskeyError> {
        let id = lucia::generate_random_string(CEREMONY_ID_LENGTH);
        let lifetime = i64::try_from(self.ceremony_lifetime.as_millis()).unwrap_or(i64::MAX);
        let challenge = PasskeyChallenge {
            id: SessionTokens::Hashed.stored_id(&id),
            user_id: user_id.map(str::to_owned),
            state: serde_json::to_string(&state).map_err(invalid_data)?,
            expires: self.now_ms().saturating_add(lifetime),
        };
        self.lucia.adapter().insert_passkey_challenge(challenge).await?;
        Ok(id)
    }

    /// Takes (deletes) the ceremony: it is used up whatever happens next.
    async fn take_ceremony(&self, ceremony_id: &str, user_id: Option<&str>) -> Result<CeremonyState, PasskeyError> {
        if ceremony_id.len() != CEREMONY_ID_LENGTH {
            return Err(PasskeyError::UnknownCeremony);
        }
        let stored_id = SessionTokens::Hashed.stored_id(ceremony_id);
        let challenge = self.lucia.adapter().take_passkey_challenge(&stored_id).await?;
        let challenge = challenge.filter(|challenge| challenge.expires >= self.now_ms());
        let challenge = challenge.ok_or(PasskeyError::UnknownCeremony)?;
        if challenge.user_id.as_deref() != user_id {
            return Err(PasskeyError::CeremonyMismatch);
        }
        serde_json::from_str(&challenge.state).map_err(invalid_data)
    }

    async fn stored_passkey(&self, credential_id: &[u8]) -> Result<DatabasePasskey, PasskeyError> {
        // An id too long to be stored is no one's: no need to ask the store.
        let id = passkey_id(credential_id).ok_or(PasskeyError::UnknownPasskey)?;
        self.lucia.adapter().get_passkey(&id).await?.ok_or(PasskeyError::UnknownPasskey)
    }

    /// Stores what the verified use changed (counter, backup state, last use), refusing a
    /// counter that did not go up, whether webauthn-rs saw it (against the stored credential)
    /// or the store's conditional update did (against a use that got there first).
    async fn record_use(
        &self,
        row: DatabasePasskey,
        mut passkey: Passkey,
        result: Result<AuthenticationResult, WebauthnError>,
    ) -> Result<VerifiedPasskey, PasskeyError> {
        let result = match result {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => return Err(possible_clone(row)),
            Err(error) => return Err(PasskeyError::Rejected(error)),
        };
        passkey.update_credential(&result);
        let passkey_use = PasskeyUse {
            credential: serde_json::to_string(&passkey).map_err(invalid_data)?,
            counter: result.counter(),
            backup_state: result.backup_state(),
            used_at: self.now_ms(),
        };
        if !self.lucia.adapter().record_passkey_use(&row.id, passkey_use).await? {
            return Err(possible_clone(row));
        }
        Ok(VerifiedPasskey { user_id: row.user_id, passkey_id: row.id })
    }
}

/// The WebAuthn user handle of a lucia user: a hash of the user id, so the handle names the
/// user without carrying the id itself (the WebAuthn spec asks for no personal data in it).
fn user_handle(user_id: &str) -> Uuid {
    let digest = Sha256::new().chain_update(b"lucia-passkey user handle\0").chain_update(user_id).finalize();
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// A credential id as passkeys are stored under it (base64url), or `None` if it is longer than
/// [`MAX_CREDENTIAL_ID_CHARS`].
fn passkey_id(credential_id: &[u8]) -> Option<String> {
    let id = URL_SAFE_NO_PAD.encode(credential_id);
    (id.len() <= MAX_CREDENTIAL_ID_CHARS).then_some(id)
}

fn possible_clone(row: DatabasePasskey) -> PasskeyError {
    tracing::warn!(
        user_id = %row.user_id,
        passkey_id = %row.id,
        "passkey signature counter did not advance: refused (possibly a cloned credential)"
    );
    PasskeyError::PossibleClone { passkey_id: row.id }
}

fn parse_passkey(credential: &str) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(credential).map_err(invalid_data)
}

fn stored_flags(credential: &str) -> Result<StoredFlags, PasskeyError> {
    serde_json::from_str::<StoredCredential>(credential).map(|stored| stored.cred).map_err(invalid_data)
}

/// Says where stored data failed to parse, not what it held: serde_json's message can quote
/// the offending value, and this error is logged.
fn invalid_data(error: serde_json::Error) -> PasskeyError {
    PasskeyError::InvalidData(format!(
        "{:?} error at line {}, column {}",
        error.classify(),
        error.line(),
        error.column()
    ))
}

fn passkey_name(name: &str) -> String {
    let name: String = name.trim().chars().take(MAX_PASSKEY_NAME_CHARS).collect();
    if name.is_empty() { "Passkey".to_owned() } else { name }
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |after| i64::try_from(after.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    /// A stored value that fails to parse is not repeated in the error, which is logged.
    #[test]
    fn invalid_data_does_not_quote_the_data() {
        let error = serde_json::from_str::<u32>("\"secret-value\"").expect_err("not a number");
        assert!(error.to_string().contains("secret-value"), "serde_json quotes it: the test can fail");
        let error = super::invalid_data(error).to_string();
        assert!(!error.contains("secret-value"), "{error}");
        assert!(error.contains("line 1, column 14"), "{error}");
    }

    /// 191 bytes are 255 base64url characters, the most an id column holds; 192 are 256.
    #[test]
    fn credential_ids_longer_than_255_characters_are_refused() {
        let id = super::passkey_id(&[0xfb; 191]).expect("191 bytes fit");
        assert_eq!(id.len(), super::MAX_CREDENTIAL_ID_CHARS);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{id}");
        assert_eq!(super::passkey_id(&[0xfb; 192]), None);
        assert_eq!(super::passkey_id(&[1; 16]).map(|id| id.len()), Some(22));
    }
}
