//! The passkey flows, end to end with 1Password's software authenticator and WebAuthn client
//! (`passkey`), over any store: each scenario takes a fresh `Lucia` from the test file.

#![allow(dead_code)] // Each test file uses the scenarios it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use lucia::{Adapter, CreateUser, Lucia, NewKey, PasskeyAdapter};
use lucia_passkey::webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
    WebauthnError,
};
use lucia_passkey::{PasskeyError, Passkeys, RelyingParty, url::Url};
use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::{Bytes, Passkey, webauthn as pk};

pub const RP_ID: &str = "example.com";
pub const ORIGIN: &str = "https://example.com";

/// A user who always verifies (a PIN or a fingerprint, accepted).
struct AlwaysVerified;

#[async_trait::async_trait]
impl UserValidationMethod for AlwaysVerified {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        _presence: bool,
        _verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence: true, verification: true })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// A software authenticator holding one passkey, behind a browser at `origin`.
pub struct Device {
    client: Client<Option<Passkey>, AlwaysVerified, RustCryptoBackend, public_suffix::PublicSuffixList, ()>,
    origin: Url,
}

impl Device {
    /// A device whose authenticator keeps a signature counter (a hardware key does; synced
    /// passkeys keep none) when `counter` is set.
    pub fn new(counter: bool) -> Self {
        Self::with_store(None, counter)
    }

    fn with_store(store: Option<Passkey>, counter: bool) -> Self {
        let mut authenticator = Authenticator::new(Aaguid::new_empty(), store, AlwaysVerified, RustCryptoBackend);
        authenticator.set_make_credentials_with_signature_counter(counter);
        Self { client: Client::new(authenticator), origin: Url::parse(ORIGIN).unwrap() }
    }

    /// The same device, as if its browser were at another origin.
    pub fn at_origin(mut self, origin: &str) -> Self {
        self.origin = Url::parse(origin).unwrap();
        self
    }

    /// A copy of the device with its key and counter as they are now: a cloned authenticator.
    pub fn clone_device(&self) -> Self {
        let store = self.client.authenticator().store().clone();
        Self {
            client: Client::new(Authenticator::new(Aaguid::new_empty(), store, AlwaysVerified, RustCryptoBackend)),
            origin: self.origin.clone(),
        }
    }

    /// `navigator.credentials.create(options)`, through JSON as a browser would.
    pub async fn create(&mut self, options: &CreationChallengeResponse) -> RegisterPublicKeyCredential {
        let request: pk::CredentialCreationOptions = convert(options);
        let created =
            self.client.register(&self.origin, request, DefaultClientData).await.expect("the authenticator registers");
        convert(&created)
    }

    /// `navigator.credentials.get(options)`, through JSON as a browser would.
    pub async fn get(&mut self, options: &RequestChallengeResponse) -> PublicKeyCredential {
        let request: pk::CredentialRequestOptions = convert(options);
        let asserted =
            self.client.authenticate(&self.origin, request, DefaultClientData).await.expect("the authenticator signs");
        convert(&asserted)
    }
}

/// `response` with its credential id replaced by `length` bytes, as an authenticator that makes
/// long ids would send it (the software authenticator makes 16 to 64 bytes). Its attestation
/// is "none", which signs nothing, so the id is rewritten in the attestation object's
/// authenticator data (`rpIdHash(32) flags(1) signCount(4) aaguid(16) idLength(2) id ...`)
/// and in `id` and `rawId`.
pub fn with_credential_id_length(response: &RegisterPublicKeyCredential, length: usize) -> RegisterPublicKeyCredential {
    let mut json = serde_json::to_value(response).unwrap();
    let object: Bytes = serde_json::from_value(json["response"]["attestationObject"].clone()).unwrap();
    // The CBOR map's "authData" key (a text string of 8), then its value: a byte string.
    let key = b"\x68authData";
    let at = object.windows(key.len()).position(|window| window == key).expect("an authData key") + key.len();
    let (start, auth_data_length) = match object[at] {
        header @ 0x40..=0x57 => (at + 1, usize::from(header - 0x40)),
        0x58 => (at + 2, usize::from(object[at + 1])),
        0x59 => (at + 3, usize::from(u16::from_be_bytes([object[at + 1], object[at + 2]]))),
        header => panic!("authData header {header:#x}"),
    };
    let auth_data = &object[start..start + auth_data_length];
    let old_length = usize::from(u16::from_be_bytes([auth_data[53], auth_data[54]]));
    let new_id: Vec<u8> = (0..length).map(|i| (i * 7 + 1) as u8).collect();
    let mut new_auth_data = auth_data[..53].to_vec();
    new_auth_data.extend_from_slice(&u16::try_from(length).unwrap().to_be_bytes());
    new_auth_data.extend_from_slice(&new_id);
    new_auth_data.extend_from_slice(&auth_data[55 + old_length..]);
    let mut new_object = object[..at].to_vec();
    new_object.push(0x59);
    new_object.extend_from_slice(&u16::try_from(new_auth_data.len()).unwrap().to_be_bytes());
    new_object.extend_from_slice(&new_auth_data);
    new_object.extend_from_slice(&object[start + auth_data_length..]);
    json["response"]["attestationObject"] = serde_json::to_value(Bytes::from(new_object)).unwrap();
    let id = serde_json::to_value(Bytes::from(new_id)).unwrap();
    json["id"] = id.clone();
    json["rawId"] = id;
    serde_json::from_value(json).unwrap()
}

fn convert<T: serde::Serialize, R: serde::de::DeserializeOwned>(value: &T) -> R {
    serde_json::from_value(serde_json::to_value(value).unwrap()).expect("the WebAuthn JSON of one is the other's")
}

/// A clock the test moves forward.
#[derive(Clone, Default)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

pub fn passkeys<A, U, S>(auth: Lucia<A, U, S>) -> Passkeys<A, U, S>
where
    A: Adapter + PasskeyAdapter,
    U: serde::Serialize + serde::de::DeserializeOwned + Send + Sync,
    S: serde::Serialize + serde::de::DeserializeOwned + Send + Sync,
{
    let relying_party = RelyingParty::new(RP_ID, Url::parse(ORIGIN).unwrap()).name("Example");
    Passkeys::new(auth, relying_party).unwrap()
}

/// A user with a password key, and a passkey registered on `device`.
pub async fn user_with_passkey<A: Adapter + PasskeyAdapter>(passkeys: &Passkeys<A>, device: &mut Device) -> String {
    let email = format!("{}@example.com", lucia::generate_random_string(8));
    let key = NewKey::password("email", &email, "correct horse battery staple");
    let user = passkeys.lucia().create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    let ceremony = passkeys.start_registration(&user.user_id, &email, "Ada").await.unwrap();
    let response = device.create(ceremony.options()).await;
    let info = passkeys.finish_registration(&user.user_id, ceremony.id(), &response, "Laptop").await.unwrap();
    assert_eq!(info.name, "Laptop");
    user.user_id
}

/// Registration, then a sign-in with the passkey alone that starts a working session and
/// records the use; then the passkey as a second factor.
pub async fn register_and_sign_in<A: Adapter + PasskeyAdapter>(auth: Lucia<A>) {
    let passkeys = passkeys(auth);
    let mut device = Device::new(true);
    let user_id = user_with_passkey(&passkeys, &mut device).await;
    let listed = passkeys.list(&user_id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, None);

    let ceremony = passkeys.start_sign_in().await.unwrap();
    let response = device.get(ceremony.options()).await;
    let signed_in = passkeys.sign_in(ceremony.id(), &response, Default::default()).await.unwrap();
    assert_eq!(signed_in.session.user.user_id, user_id);
    let session = passkeys.lucia().validate_session(signed_in.token.expose_secret()).await.unwrap();
    assert_eq!(session.user.user_id, user_id);
    let stored = passkeys.lucia().adapter().get_passkey(&listed[0].id).await.unwrap().unwrap();
    assert_eq!(stored.counter, 1);
    assert!(stored.last_used_at.is_some());

    let ceremony = passkeys.start_second_factor(&user_id).await.unwrap();
    assert_eq!(ceremony.options().public_key.allow_credentials.len(), 1);
    let response = device.get(ceremony.options()).await;
    let verified = passkeys.verify_second_factor(&user_id, ceremony.id(), &response).await.unwrap();
    assert_eq!((verified.user_id.as_str(), verified.passkey_id.as_str()), (user_id.as_str(), listed[0].id.as_str()));
    assert_eq!(passkeys.lucia().adapter().get_passkey(&listed[0].id).await.unwrap().unwrap().counter, 2);
}

/// A response made at another origin (a host under the relying-party id the site does not
/// serve from) is refused, at registration and at sign-in.
pub async fn wrong_origin_is_refused<A: Adapter + PasskeyAdapter>(auth: Lucia<A>) {
    let passkeys = passkeys(auth);
    let mut device = Device::new(false);
    let user_id = user_with_passkey(&passkeys, &mut device).await;
    let mut elsewhere = device.at_origin("https://evil.example.com");

    let ceremony = passkeys.start_sign_in().await.unwrap();
    let response = elsewhere.get(ceremony.options()).await;
    let refused = passkeys.sign_in(ceremony.id(), &response, Default::default()).await;
    assert!(matches!(refused, Err(PasskeyError::Rejected(WebauthnError::InvalidRPOrigin))), "{refused:?}");
    // A response that did not verify uses its ceremony up: no second try at that challenge.
    let mut device = elsewhere.at_origin(ORIGIN);
    let response = device.get(ceremony.options()).await;
    let refused = passkeys.sign_in(ceremony.id(), &response, Default::default()).await;
    assert!(matches!(refused, Err(PasskeyError::UnknownCeremony)), "{refused:?}");

    let ceremony = passkeys.start_registration(&user_id, "ada", "Ada").await.unwrap();
    let mut other_device = Device::new(false).at_origin("https://evil.example.com");
    let response = other_device.create(ceremony.options()).await;
    let refused = passkeys.finish_registration(&user_id, ceremony.id(), &response, "Phone").await;
    assert!(matches!(refused, Err(PasskeyError::Rejected(WebauthnError::InvalidRPOrigin))), "{refused:?}");
    assert_eq!(passkeys.list(&user_id).await.unwrap().len(), 1);
}

/// A response is good once: finishing its ceremony again, or presenting it to another
/// ceremony, is refused; so is a ceremony past its lifetime, or of another user.
pub async fn replayed_challenge_is_refused<A: Adapter + PasskeyAdapter>(auth: Lucia<A>, clock: TestClock) {
    let passkeys = passkeys(auth);
    let mut device = Device::new(false);
    let user_id = user_with_passkey(&passkeys, &mut device).await;

    let ceremony = passkeys.start_sign_in().await.unwrap();
    let response = device.get(ceremony.options()).await;
    passkeys.sign_in(ceremony.id(), &response, Default::default()).await.unwrap();
    let replayed = passkeys.sign_in(ceremony.id(), &response, Default::default()).await;
    assert!(matches!(replayed, Err(PasskeyError::UnknownCeremony)), "{replayed:?}");

    let other = passkeys.start_sign_in().await.unwrap();
    let replayed = passkeys.sign_in(other.id(), &response, Default::default()).await;
    assert!(matches!(replayed, Err(PasskeyError::Rejected(WebauthnError::MismatchedChallenge))), "{replayed:?}");

    // Past its lifetime, a ceremony no longer finishes.
    let late = passkeys.start_sign_in().await.unwrap();
    let response = device.get(late.options()).await;
    clock.advance(lucia_passkey::DEFAULT_CEREMONY_LIFETIME + Duration::from_secs(1));
    let refused = passkeys.sign_in(late.id(), &response, Default::default()).await;
    assert!(matches!(refused, Err(PasskeyError::UnknownCeremony)), "{refused:?}");

    // A ceremony is its user's: another user cannot finish it, nor a sign-in ceremony.
    let ceremony = passkeys.start_second_factor(&user_id).await.unwrap();
    let response = device.get(ceremony.options()).await;
    let refused = passkeys.verify_second_factor("someone-else", ceremony.id(), &response).await;
    assert!(matches!(refused, Err(PasskeyError::CeremonyMismatch)), "{refused:?}");
    let ceremony = passkeys.start_second_factor(&user_id).await.unwrap();
    let refused = passkeys.verify_sign_in(ceremony.id(), &response).await;
    assert!(matches!(refused, Err(PasskeyError::CeremonyMismatch)), "{refused:?}");
}

/// A cloned authenticator shows itself by a counter that does not go up: its sign-in is
/// refused, and the original keeps working.
pub async fn cloned_credential_is_refused<A: Adapter + PasskeyAdapter>(auth: Lucia<A>) {
    let passkeys = passkeys(auth);
    let mut device = Device::new(true);
    let user_id = user_with_passkey(&passkeys, &mut device).await;
    let mut clone = device.clone_device();

    for _ in 0..2 {
        let ceremony = passkeys.start_sign_in().await.unwrap();
        let response = device.get(ceremony.options()).await;
        passkeys.sign_in(ceremony.id(), &response, Default::default()).await.unwrap();
    }
    // The clone's counter (1) is behind the original's (2).
    let ceremony = passkeys.start_sign_in().await.unwrap();
    let response = clone.get(ceremony.options()).await;
    let refused = passkeys.sign_in(ceremony.id(), &response, Default::default()).await;
    let passkey_id = passkeys.list(&user_id).await.unwrap()[0].id.clone();
    assert!(
        matches!(&refused, Err(PasskeyError::PossibleClone { passkey_id: id }) if *id == passkey_id),
        "{refused:?}"
    );

    // Caught up with the stored counter (2), still not above it.
    let ceremony = passkeys.start_second_factor(&user_id).await.unwrap();
    let response = clone.get(ceremony.options()).await;
    let refused = passkeys.verify_second_factor(&user_id, ceremony.id(), &response).await;
    assert!(matches!(refused, Err(PasskeyError::PossibleClone { .. })), "{refused:?}");

    let ceremony = passkeys.start_sign_in().await.unwrap();
    let response = device.get(ceremony.options()).await;
    passkeys.sign_in(ceremony.id(), &response, Default::default()).await.unwrap();
    assert_eq!(passkeys.lucia().adapter().get_passkey(&passkey_id).await.unwrap().unwrap().counter, 3);
}

/// Passkeys are renamed and removed by their owner; the last way to sign in is kept; a
/// removed passkey no longer signs in.
pub async fn remove_keeps_the_last_sign_in_method<A: Adapter + PasskeyAdapter>(auth: Lucia<A>) {
    let passkeys = passkeys(auth);
    let mut device = Device::new(false);
    let user_id = user_with_passkey(&passkeys, &mut device).await;
    let passkey_id = passkeys.list(&user_id).await.unwrap()[0].id.clone();
    passkeys.rename(&user_id, &passkey_id, "  Work laptop  ").await.unwrap();
    assert_eq!(passkeys.list(&user_id).await.unwrap()[0].name, "Work laptop");
    assert!(matches!(passkeys.remove("someone-else", &passkey_id).await, Err(PasskeyError::NotFound)));

    // With the password key gone, the passkey is the only way in.
    let key = passkeys.lucia().get_all_user_keys(&user_id).await.unwrap().remove(0);
    passkeys.lucia().delete_key(&key.provider_id, &key.provider_user_id).await.unwrap();
    let refused = passkeys.remove(&user_id, &passkey_id).await;
    assert!(matches!(refused, Err(PasskeyError::LastSignInMethod)), "{refused:?}");

    // A second passkey makes the first removable; a removed passkey no longer signs in.
    let mut phone = Device::new(false);
    let ceremony = passkeys.start_registration(&user_id, "ada", "Ada").await.unwrap();
    let response = phone.create(ceremony.options()).await;
    passkeys.finish_registration(&user_id, ceremony.id(), &response, "Phone").await.unwrap();
    passkeys.remove(&user_id, &passkey_id).await.unwrap();
    assert_eq!(passkeys.list(&user_id).await.unwrap().len(), 1);
    let ceremony = passkeys.start_sign_in().await.unwrap();
    let response = device.get(ceremony.options()).await;
    let refused = passkeys.sign_in(ceremony.id(), &response, Default::default()).await;
    assert!(matches!(refused, Err(PasskeyError::UnknownPasskey)), "{refused:?}");
    let ceremony = passkeys.start_sign_in().await.unwrap();
    let response = phone.get(ceremony.options()).await;
    passkeys.sign_in(ceremony.id(), &response, Default::default()).await.unwrap();
}

/// A credential id of up to 255 base64url characters (191 bytes) is stored; a longer one, which
/// a `VARCHAR(255)` id column would not hold, is refused with a typed error, and nothing is
/// stored.
pub async fn long_credential_id_is_refused<A: Adapter + PasskeyAdapter>(auth: Lucia<A>) {
    let passkeys = passkeys(auth);
    let email = format!("{}@example.com", lucia::generate_random_string(8));
    let key = NewKey::password("email", &email, "correct horse battery staple");
    let user = passkeys.lucia().create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    let mut device = Device::new(false);

    let ceremony = passkeys.start_registration(&user.user_id, &email, "Ada").await.unwrap();
    let response = with_credential_id_length(&device.create(ceremony.options()).await, 192);
    let refused = passkeys.finish_registration(&user.user_id, ceremony.id(), &response, "Long").await;
    assert!(matches!(refused, Err(PasskeyError::CredentialIdTooLong)), "{refused:?}");
    assert!(passkeys.list(&user.user_id).await.unwrap().is_empty());

    let ceremony = passkeys.start_registration(&user.user_id, &email, "Ada").await.unwrap();
    let response = with_credential_id_length(&device.create(ceremony.options()).await, 191);
    let added = passkeys.finish_registration(&user.user_id, ceremony.id(), &response, "Longest").await.unwrap();
    assert_eq!(added.id.len(), lucia_passkey::MAX_CREDENTIAL_ID_CHARS);
    assert_eq!(
        passkeys.lucia().adapter().get_passkey(&added.id).await.unwrap().map(|row| row.user_id),
        Some(user.user_id)
    );
}
