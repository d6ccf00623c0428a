//! Provider accounts as keys: `<provider id>:<subject>`, without a password.

use std::future::Future;

use lucia::{Adapter, CreateUser, Key, Lucia, NewKey, NewSession, SecondFactorAdapter};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, ProviderUser};

/// How [`ProviderKeys::sign_in`] found the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInCase {
    /// The provider account's key existed: its user is signed in.
    ExistingKey,
    /// No key and no account to link: a new user was created with the key.
    NewUser,
    /// The provider's verified email was the email key of an existing user whose address is
    /// verified too: the key was added to that user, who is signed in
    /// ([`ProviderKeys::link_by_verified_email`]).
    LinkedByEmail,
}

/// The outcome of [`ProviderKeys::sign_in`]: which case happened, and the new session (send
/// its cookie).
#[derive(Debug)]
pub struct SignIn<U, S> {
    /// How the user was found.
    pub case: SignInCase,
    /// The session started for the user.
    pub session: NewSession<U, S>,
}

/// The outcome of [`ProviderKeys::sign_in_with_second_factor`]: which case happened, and
/// either the new session or, for a user with a confirmed TOTP, the pending sign-in that the
/// second step completes ([`Lucia::complete_sign_in`]).
#[derive(Debug)]
pub struct TwoStepSignIn<U, S> {
    /// How the user was found.
    pub case: SignInCase,
    /// The session (send its cookie), or the pending sign-in (send the client to the second
    /// step with it): no session exists yet.
    pub outcome: lucia::SignIn<U, S>,
}

type LocalEmailVerified<U> = dyn Fn(&U) -> bool + Send + Sync;

/// Turns a [`ProviderUser`] into a Lucia user and session: the provider account is the key
/// `<provider id>:<subject>` with no password (the subject is the provider's stable user id;
/// an email address can change hands, a subject cannot).
///
/// By default a provider account is only ever matched by its key: a first sign-in creates a
/// new user, and an existing user adds a provider with [`link`](Self::link) while signed in.
/// [`link_by_verified_email`](Self::link_by_verified_email) opts into matching an existing
/// account by email instead.
///
/// ```
/// use lucia::{Lucia, memory::MemoryAdapter};
/// use lucia_oauth::{ProviderKeys, ProviderUser, SignInCase};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Profile {
///     email: Option<String>,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lucia_oauth::Error> {
/// let auth = Lucia::builder(MemoryAdapter::new()).user_attributes::<Profile>().build();
/// let keys = ProviderKeys::new();
/// let account = ProviderUser {
///     provider_id: "oidc".into(),
///     subject: "248289761001".into(),
///     email: Some("ada@example.com".into()),
///     email_verified: true,
/// };
/// let first = keys.sign_in(&auth, &account, |user| Profile { email: user.email.clone() }, Default::default()).await?;
/// assert_eq!(first.case, SignInCase::NewUser);
/// let again = keys.sign_in(&auth, &account, |_| unreachable!(), Default::default()).await?;
/// assert_eq!(again.case, SignInCase::ExistingKey);
/// assert_eq!(again.session.session.user.user_id, first.session.session.user.user_id);
/// # Ok(()) }
/// ```
pub struct ProviderKeys<U> {
    link_by_email: Option<(String, Box<LocalEmailVerified<U>>)>,
}

impl<U> std::fmt::Debug for ProviderKeys<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("link_by_email_key_provider", &self.link_by_email.as_ref().map(|(provider, _)| provider))
            .finish()
    }
}

impl<U> Default for ProviderKeys<U> {
    fn default() -> Self {
        Self::new()
    }
}

impl<U> ProviderKeys<U> {
    /// Matching by key only.
    pub fn new() -> Self {
        Self { link_by_email: None }
    }

    /// Opts into linking a new provider account to an existing user by email: when the
    /// provider says its email is verified, and the key `<email_key_provider>:<email in
    /// lowercase>` (the application's email-and-password key, such as `email`) exists, and
    /// `local_email_verified` says that user's own address is verified, the provider's key is
    /// added to that user instead of creating a new one. Only an ASCII address links (in ASCII
    /// lowercase); a non-ASCII one never does, as Unicode case mapping can turn another
    /// mailbox into the same key. Nor does one whose user already has a key of the same
    /// provider: another account of the provider with that address means the address changed
    /// hands there.
    ///
    /// Why both checks: linking hands the existing account to whoever controls the provider
    /// account. If the provider has not verified the address, anyone can create a provider
    /// account with someone else's email and take over their account here. If this
    /// application has not verified its user's address, an attacker can sign up here first
    /// with the victim's email, then wait for the victim to sign in with a provider and be
    /// linked into the attacker's account ("pre-account takeover"). Providers differ in how
    /// much "verified" means (some let domain administrators assert it), so this stays off
    /// unless the application trusts its providers.
    #[must_use]
    pub fn link_by_verified_email(
        mut self,
        email_key_provider: impl Into<String>,
        local_email_verified: impl Fn(&U) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.link_by_email = Some((email_key_provider.into(), Box::new(local_email_verified)));
        self
    }
}

impl<U> ProviderKeys<U>
where
    U: Serialize + DeserializeOwned + Send + Sync,
{
    /// Signs in with a provider account: with its key if it exists
    /// ([`SignInCase::ExistingKey`]); else, if opted in, by linking it to the user with the
    /// same verified email ([`SignInCase::LinkedByEmail`]); else by creating a user with the
    /// attributes `new_user` gives and the key ([`SignInCase::NewUser`]). `session` is the new
    /// session's attributes.
    ///
    /// Of two first sign-ins of one account at once, one creates the user and the other signs
    /// into it. Errors are Lucia's ([`Error::Lucia`]), such as a unique attribute column
    /// that another user already holds. A user with a confirmed TOTP is refused with
    /// `lucia::Error::SecondFactorRequired` (the provider account alone does not skip the
    /// code): sign them in with
    /// [`sign_in_with_second_factor`](Self::sign_in_with_second_factor).
    pub async fn sign_in<A, S>(
        &self,
        lucia: &Lucia<A, U, S>,
        account: &ProviderUser,
        new_user: impl FnOnce(&ProviderUser) -> U,
        session: S,
    ) -> Result<SignIn<U, S>, Error>
    where
        A: Adapter,
        S: Serialize + DeserializeOwned + Send + Sync + Clone,
    {
        let (provider, subject) = (account.provider_id.as_str(), account.subject.as_str());
        let by_key = move |session| lucia.sign_in(provider, subject, None, session);
        let (case, session) = self.find_or_create(lucia, account, new_user, session, by_key).await?;
        Ok(SignIn { case, session })
    }

    /// Signs in as [`sign_in`](Self::sign_in) does (same cases and errors), for a store with
    /// second factors: a user with a confirmed TOTP gets no session but
    /// `lucia::SignIn::SecondFactorRequired`, the pending sign-in of
    /// [`Lucia::sign_in_with_second_factor`], as a password sign-in does. Only an existing
    /// user ([`SignInCase::ExistingKey`], [`SignInCase::LinkedByEmail`]) can have one: a new
    /// user is always signed in.
    ///
    /// Errors also include `lucia::Error::SecondFactorNotConfigured` when `lucia` has no
    /// [`SecondFactorSettings`](lucia::SecondFactorSettings).
    pub async fn sign_in_with_second_factor<A, S>(
        &self,
        lucia: &Lucia<A, U, S>,
        account: &ProviderUser,
        new_user: impl FnOnce(&ProviderUser) -> U,
        session: S,
    ) -> Result<TwoStepSignIn<U, S>, Error>
    where
        A: Adapter + SecondFactorAdapter,
        S: Serialize + DeserializeOwned + Send + Sync + Clone,
    {
        let (provider, subject) = (account.provider_id.as_str(), account.subject.as_str());
        let by_key = move |session| lucia.sign_in_with_second_factor(provider, subject, None, session);
        let (case, outcome) = self.find_or_create(lucia, account, new_user, session, by_key).await?;
        Ok(TwoStepSignIn { case, outcome })
    }

    /// The cases of [`sign_in`](Self::sign_in), signing in with `by_key` (the provider
    /// account's key, no password, the session's attributes) once the key exists.
    async fn find_or_create<A, S, O, Fut>(
        &self,
        lucia: &Lucia<A, U, S>,
        account: &ProviderUser,
        new_user: impl FnOnce(&ProviderUser) -> U,
        session: S,
        by_key: impl Fn(S) -> Fut,
    ) -> Result<(SignInCase, O), Error>
    where
        A: Adapter,
        S: Serialize + DeserializeOwned + Send + Sync + Clone,
        Fut: Future<Output = Result<O, lucia::Error>>,
    {
        let (provider, subject) = (&account.provider_id, &account.subject);
        match by_key(session.clone()).await {
            Ok(new) => return Ok((SignInCase::ExistingKey, new)),
            Err(lucia::Error::InvalidKeyId) => {}
            Err(error) => return Err(error.into()),
        }
        if let Some(user_id) = self.user_by_verified_email(lucia, account).await? {
            let case = match lucia.create_key(&user_id, NewKey::passwordless(provider, subject)).await {
                Ok(_) => SignInCase::LinkedByEmail,
                // Linked meanwhile by a sign-in racing this one: sign into whatever it linked.
                Err(lucia::Error::DuplicateKeyId) => SignInCase::ExistingKey,
                Err(error) => return Err(error.into()),
            };
            return Ok((case, by_key(session).await?));
        }
        let created = lucia
            .create_user(CreateUser::new(new_user(account)).with_key(NewKey::passwordless(provider, subject)))
            .await;
        let case = match created {
            Ok(_) => SignInCase::NewUser,
            // A sign-in racing this one created the user first.
            Err(lucia::Error::DuplicateKeyId) => SignInCase::ExistingKey,
            Err(error) => return Err(error.into()),
        };
        Ok((case, by_key(session).await?))
    }

    /// Adds a provider account to the signed-in user `user_id` (the "link" button of an
    /// account page). Linking an account that is already this user's changes nothing; one
    /// that is another user's is [`Error::AccountTaken`].
    pub async fn link<A, S>(&self, lucia: &Lucia<A, U, S>, user_id: &str, account: &ProviderUser) -> Result<Key, Error>
    where
        A: Adapter,
        S: Serialize + DeserializeOwned + Send + Sync,
    {
        let (provider, subject) = (&account.provider_id, &account.subject);
        match lucia.create_key(user_id, NewKey::passwordless(provider, subject)).await {
            Ok(key) => Ok(key),
            Err(lucia::Error::DuplicateKeyId) => {
                let key = lucia.get_key(provider, subject).await?;
                if key.user_id == user_id { Ok(key) } else { Err(Error::AccountTaken) }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The user to link `account` to by email, if opted in and both sides verified it.
    async fn user_by_verified_email<A, S>(
        &self,
        lucia: &Lucia<A, U, S>,
        account: &ProviderUser,
    ) -> Result<Option<String>, Error>
    where
        A: Adapter,
        S: Serialize + DeserializeOwned + Send + Sync,
    {
        let (Some((email_provider, local_verified)), Some(email), true) =
            (&self.link_by_email, &account.email, account.email_verified)
        else {
            return Ok(None);
        };
        // ASCII addresses only: Unicode lowercasing maps distinct addresses onto one (such as
        // `\u{212A}` KELVIN SIGN onto `k`), and whether two non-ASCII local parts are the same
        // mailbox is up to the mail server, so such an address links nothing.
        if !email.is_ascii() {
            return Ok(None);
        }
        let key = match lucia.get_key(email_provider, &email.to_ascii_lowercase()).await {
            Ok(key) => key,
            Err(lucia::Error::InvalidKeyId) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let user = lucia.get_user(&key.user_id).await?;
        if !local_verified(&user.attributes) {
            return Ok(None);
        }
        // A user who already has another account of this provider is not given a second one
        // by email: the address changed hands at the provider (a deleted account's address
        // given to someone else, such as by a domain's administrator).
        let keys = lucia.get_all_user_keys(&key.user_id).await?;
        if keys.iter().any(|key| key.provider_id == account.provider_id) {
            return Ok(None);
        }
        Ok(Some(key.user_id))
    }
}
