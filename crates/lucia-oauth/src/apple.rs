//! Sign in with Apple: OpenID Connect with a signed client secret and a `form_post` callback.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey as _;

use crate::oidc::Dialect;
use crate::{Error, HttpClient, OidcProvider};

/// Apple's issuer, and the audience of the client secret.
const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// How long a client secret is valid: it is made for each token request, so a few minutes
/// (Apple allows up to 6 months).
const CLIENT_SECRET_LIFETIME: Duration = Duration::from_secs(300);

/// The client secret of Sign in with Apple: not a fixed string but a JWT (ES256) that the
/// application signs with its private key, made anew for each token request.
///
/// Its header names the key (`kid`), its claims are `iss` = the team id, `sub` = the client id
/// (the Services ID, such as `com.example.app.web`), `aud` = `https://appleid.apple.com`,
/// `iat` = now, `exp` = now + 5 minutes.
///
/// Its `Debug` shows the team id, key id and client id, never the key.
///
/// ```
/// # let p8 = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5FwNoVNM6TxgRW3a\nOW3LKfYVyPK8VyYMLniJCt6+NM2hRANCAATtYlcIzvJK+vbpPc8jNAj8lSD3i1WX\nTZDTGUYV5PEK3jvcUtPdTWrrswcZhzJ9pTg+wyA0YcJGyjvMxEiXTYqO\n-----END PRIVATE KEY-----\n";
/// // `p8`: the contents of the `AuthKey_<key id>.p8` file Apple gave.
/// let secret = lucia_oauth::AppleClientSecret::new("TEAMID1234", "KEYID12345", "com.example.app.web", p8)?;
/// let jwt = secret.jwt()?;
/// assert_eq!(jwt.split('.').count(), 3);
/// # Ok::<(), lucia_oauth::Error>(())
/// ```
#[derive(Clone)]
pub struct AppleClientSecret {
    team_id: String,
    key_id: String,
    client_id: String,
    audience: String,
    key: SigningKey,
}

impl std::fmt::Debug for AppleClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppleClientSecret")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl AppleClientSecret {
    /// The client secret of the Services ID `client_id`, signed with the private key
    /// `private_key_pem` (the `.p8` file's contents, a PKCS #8 PEM of a P-256 key) whose id is
    /// `key_id`, for the team `team_id`. [`Error::Configuration`] if the key does not parse
    /// (the message does not quote it) or an id is empty.
    pub fn new(
        team_id: impl Into<String>,
        key_id: impl Into<String>,
        client_id: impl Into<String>,
        private_key_pem: &str,
    ) -> Result<Self, Error> {
        let key = SigningKey::from_pkcs8_pem(private_key_pem.trim())
            .map_err(|_| Error::Configuration("the Apple private key is not a PKCS #8 PEM P-256 key".into()))?;
        let (team_id, key_id, client_id) = (team_id.into(), key_id.into(), client_id.into());
        if team_id.is_empty() || key_id.is_empty() || client_id.is_empty() {
            return Err(Error::Configuration("the Apple team id, key id and client id must not be empty".into()));
        }
        Ok(Self { team_id, key_id, client_id, audience: APPLE_ISSUER.into(), key })
    }

    /// The client id (Services ID) this secret is for.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A fresh client secret: the signed JWT, valid for 5 minutes from now.
    pub fn jwt(&self) -> Result<String, Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
        self.jwt_at(now)
    }

    /// The JWT issued at `iat` (seconds since the epoch).
    fn jwt_at(&self, iat: u64) -> Result<String, Error> {
        let header = serde_json::json!({ "alg": "ES256", "kid": self.key_id });
        let exp = iat.saturating_add(CLIENT_SECRET_LIFETIME.as_secs());
        let claims = serde_json::json!({
            "iss": self.team_id,
            "iat": iat,
            "exp": exp,
            "aud": self.audience,
            "sub": self.client_id,
        });
        let encode = |value: &serde_json::Value| {
            serde_json::to_vec(value)
                .map(|json| URL_SAFE_NO_PAD.encode(json))
                .map_err(|error| Error::Configuration(error.to_string()))
        };
        let signing_input = format!("{}.{}", encode(&header)?, encode(&claims)?);
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
    }
}

impl OidcProvider {
    /// Sign in with Apple, with the provider id `apple`: discovery at
    /// `https://appleid.apple.com`, the client secret made by `client_secret` for each token
    /// request, and the callback as a cross-site **`POST`** (`response_mode=form_post`, which
    /// Apple requires with the `email` scope): see [`uses_form_post`](Self::uses_form_post)
    /// for what the callback route must do. The flow cookie is `SameSite=None; Secure`.
    ///
    /// The subject is the ID token's `sub` (stable per team). The email is the ID token's
    /// (a relay address `…@privaterelay.appleid.com` if the user hid theirs), verified as its
    /// `email_verified` says (Apple sends it as `"true"` or `"false"`, which is accepted as
    /// well as booleans). Apple sends the user's name only at the first sign-in, in the
    /// callback's `user` form field, which this crate does not read.
    ///
    /// Register at <https://developer.apple.com/account/resources> (Certificates, Identifiers &
    /// Profiles): an App ID with "Sign in with Apple" enabled; a Services ID (its identifier is
    /// the client id) with "Sign in with Apple" configured with the application's domain and
    /// its "Return URL", the callback route (such as
    /// `https://app.example.com/login/apple/callback`; HTTPS only, no `localhost`); and a key
    /// with "Sign in with Apple" enabled: download its `.p8` file (once) and note its key id
    /// and the team id.
    ///
    /// ```no_run
    /// # async fn example(p8: &str) -> Result<(), lucia_oauth::Error> {
    /// let http = lucia_oauth::HttpClient::new()?;
    /// let secret = lucia_oauth::AppleClientSecret::new("TEAMID1234", "KEYID12345", "com.example.app.web", p8)?;
    /// let apple =
    ///     lucia_oauth::OidcProvider::apple(&http, secret, "https://app.example.com/login/apple/callback").await?;
    /// assert!(apple.uses_form_post());
    /// # Ok(()) }
    /// ```
    pub async fn apple(http: &HttpClient, client_secret: AppleClientSecret, redirect_url: &str) -> Result<Self, Error> {
        Self::apple_at(http, APPLE_ISSUER, client_secret, redirect_url).await
    }

    /// [`apple`](Self::apple) with another issuer (a local fake in tests), which is also the
    /// client secret's audience.
    pub async fn apple_at(
        http: &HttpClient,
        issuer: &str,
        mut client_secret: AppleClientSecret,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        client_secret.audience = issuer.to_owned();
        let client = (client_secret.client_id.clone(), None);
        Self::discover_dialect(http, "apple".into(), issuer, client, redirect_url, Dialect::Apple(client_secret)).await
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;

    use super::*;

    const P8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5FwNoVNM6TxgRW3a
OW3LKfYVyPK8VyYMLniJCt6+NM2hRANCAATtYlcIzvJK+vbpPc8jNAj8lSD3i1WX
TZDTGUYV5PEK3jvcUtPdTWrrswcZhzJ9pTg+wyA0YcJGyjvMxEiXTYqO
-----END PRIVATE KEY-----
";

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn client_secret_is_an_es256_jwt_with_apples_claims() {
        let secret = AppleClientSecret::new("TEAM123456", "KEY1234567", "com.example.web", P8).unwrap();
        let jwt = secret.jwt_at(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(decode(parts[0]), serde_json::json!({"alg": "ES256", "kid": "KEY1234567"}));
        let expected = serde_json::json!({
            "iss": "TEAM123456",
            "iat": 1_700_000_000,
            "exp": 1_700_000_300,
            "aud": "https://appleid.apple.com",
            "sub": "com.example.web",
        });
        assert_eq!(decode(parts[1]), expected);
        // Verifies with the key's public half; not with another's, nor over other claims.
        let public = VerifyingKey::from(SigningKey::from_pkcs8_pem(P8).unwrap());
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        public.verify(input.as_bytes(), &signature).unwrap();
        assert!(public.verify(format!("{}.e30", parts[0]).as_bytes(), &signature).is_err());
        let other = VerifyingKey::from(SigningKey::from_slice(&[7; 32]).unwrap());
        assert!(other.verify(input.as_bytes(), &signature).is_err());
    }

    #[test]
    fn bad_keys_are_configuration_errors_and_debug_hides_the_key() {
        for pem in ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"] {
            let error = AppleClientSecret::new("T", "K", "C", pem).unwrap_err();
            assert!(matches!(&error, Error::Configuration(message) if !message.contains("AAAA")), "{error:?}");
        }
        assert!(matches!(AppleClientSecret::new("", "K", "C", P8), Err(Error::Configuration(_))));
        let secret = AppleClientSecret::new("TEAM123456", "KEY1234567", "com.example.web", P8).unwrap();
        let debug = format!("{secret:?}");
        assert!(debug.contains("TEAM123456") && debug.contains("KEY1234567"));
        assert!(!debug.contains("MIGHAgEA") && !debug.contains("5FwNoVNM") && !debug.contains("key:"), "{debug}");
    }
}
