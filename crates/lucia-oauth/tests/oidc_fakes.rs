//! The Microsoft and Apple presets against local fakes of their OpenID Connect endpoints
//! (discovery, keys, authorization, token) on loopback, issuing ID tokens signed with a fixed
//! test RSA key: Microsoft's multi-tenant issuer template and Apple's signed client secret,
//! `form_post` callback and string booleans.

mod common;

mod fakes {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::{SystemTime, UNIX_EPOCH};

    use axum::extract::{Form, Path, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use lucia_oauth::{AppleClientSecret, Error, HttpClient, OidcProvider, Provider, ProviderUser};
    use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
    use openidconnect::{JsonWebKeyId, PrivateSigningKey};
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use p256::pkcs8::DecodePrivateKey as _;
    use serde_json::{Value, json};

    use crate::common::{self, Authorizer, authorize_at_fake, flow};

    const REDIRECT_URL: &str = "https://127.0.0.1:9/login/callback";
    const TENANT_A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
    const TENANT_B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

    /// A fixed RSA key for the fakes' ID tokens (tests only).
    const RSA_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAsvombTgjO4UbUyph+ziMiMbFLgIFNQ0UOyjF373hZytN+chn
oqYaPw3Oihf67UR7KFGIgzRuls7jOxQquZzMI+yaSQdKGhbOOSdnALjEkns/2VPr
1T2XitInbOYWzu+QHmSzD+ndCxVZAVLiuIn/iYCy7SPXrIGZFF1F7lArRO6h9GT6
Ppia74XpiYV7EEcvsC3GypzVv5366+Jtu6pk6stm4kilNinyiTzKFtYb+aNzhFbo
AGtBDOmaZcvFmOYlPLA009FeCjy6TIXMI2FW4AwZML//oABzP6Bn39hivOpmXEnv
Xd5EsKXOM5Mi3phStJpK0Hf79OIELyl7UwLPFQIDAQABAoIBAAMXZwqD6bfheLNb
DA42z9ac+FLvHf/olezfq2tN8FLD4LjryT55+AIWzvZ7q43lnOr5XY5GnZJlSG+A
zawfFTeZoqCYS6NfuXgrQhA1INAW6OdsF6q7QZ7YOm4bG1G/uZGM07r2oybJ25u2
PsxJNey+GFkYQWVtZ6N+aPLQ1659GUTSng3SAvpQiaQjMFNUyBhSNBLp/vUEk2pU
xRUjOgNDBk+82i5opkmPRnMs8BXCTpSOKKINRJayTmM3LPlBdJcrlnw+AjHb88VB
TpKIJ70hs/vLpzmdJVoFHC3X2/7BotnK2/+9jcP1nfTirGJCpgLaBMKDbjZNkA/V
IrT8NBECgYEA8N5EiolzYRYp3TriciUxDRcLWEHe2J9D9idF33bRCWR3zZPd+2zE
cOlG4o+CBrRY/pQBlrdkj+nZ6VuvPYEC1DwOzr5deP9T9DFeQjA1ICUHuWXF6KVz
AHGw6v1D92Vp9mWOtwLm715m7luwcCAFYFqPwAz9eMygBxaxIuYA2jMCgYEAvjiG
6NL7byV0e2tlavL6OPaxRKuNn0WLrF1yLCQ2uQopobpAnjGwbiD2zozk/DybyyHr
NhmOsD2LYC/AOGQ6pPz4xRrEwcsaKG8Jue4Ia89/JY9bGk+AHQ6CcHUdgHXjlEba
ec1/lhwcEQevwQG7l42Ypq+I0l6VlMB0JxkgeZcCgYB4HM6fKwXPT0cXHCsZ8rPw
LCKrI0XmTh2M3W65jb2V6nTXnjofC9E14Q5JInkbsMmEQfg82T0biujwtpi/mdr4
TO6xaDqigOizp/6yEOodGnosmLTFW+PqP8eSlzNSZk8d4Oz3FEpm6XN4v15Pu5gS
wXZXteKcX6YZgtZYacvZAwKBgQCmWEpqCi7EqK1vTKCY4Ti+XcTxd1BWyvt01RcF
0Pll4aQ8gOMHNA7Ej+ElCYMprVrUTaoiWkE0j+11ROzEo6nBJFPsEhekHReX6lpI
FQeaOA9Jak7R+FnhjxG0hEYzU2ScA0YFJBcBzz0gC2e/0eMZikLG6VQuG3aVaaNp
mYiTqwKBgBWYA3cq8GqOAxSHcu+qVPXyIURz4PZzdrNhenxYl4loz+7AH0H0uS3L
kVXXAf9j2eqX4AcPYPLXk5kZiXE+/xBD5iIw0d5uM4IICGbwOlxErTqZ+2hW9Ma1
X/sUn/vusBnroecJIbmlmWisk+YzlFxeq/sDsuzcKcP/BPLA6hHW
-----END RSA PRIVATE KEY-----";

    /// The `.p8` key of the Apple tests (tests only), and another one.
    const APPLE_P8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5FwNoVNM6TxgRW3a
OW3LKfYVyPK8VyYMLniJCt6+NM2hRANCAATtYlcIzvJK+vbpPc8jNAj8lSD3i1WX
TZDTGUYV5PEK3jvcUtPdTWrrswcZhzJ9pTg+wyA0YcJGyjvMxEiXTYqO
-----END PRIVATE KEY-----
";

    fn rsa_key() -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(RSA_PEM, Some(JsonWebKeyId::new("test-key".into()))).unwrap()
    }

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    /// An RS256 JWT of `claims` signed with the test key.
    fn sign(claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": "test-key", "typ": "JWT"});
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
        let input = format!("{}.{}", encode(&header), encode(claims));
        let signature = rsa_key().sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    async fn keys() -> Json<Value> {
        Json(json!({"keys": [rsa_key().as_verification_key()]}))
    }

    /// What a fake provider answers, and its base URL once it listens.
    #[derive(Clone)]
    struct Fake {
        authorizer: Authorizer,
        base: Arc<OnceLock<String>>,
        /// The ID token's claims besides `aud`, `exp`, `iat` and `nonce`; `{base}` in `iss`
        /// is replaced by the base URL.
        claims: Arc<Mutex<Value>>,
    }

    impl Fake {
        fn new(authorizer: Authorizer, claims: Value) -> Self {
            Self { authorizer, base: Arc::default(), claims: Arc::new(Mutex::new(claims)) }
        }

        fn base(&self) -> &str {
            self.base.get().unwrap()
        }

        fn set_claims(&self, claims: Value) {
            *self.claims.lock().unwrap() = claims;
        }

        /// The token response for a redeemed authorization request.
        fn tokens(&self, request: &HashMap<String, String>) -> Response {
            let mut claims = self.claims.lock().unwrap().clone();
            let iss = claims["iss"].as_str().unwrap().replace("{base}", self.base());
            claims["iss"] = iss.into();
            claims["aud"] = self.authorizer.client_id.into();
            claims["iat"] = now().into();
            claims["exp"] = (now() + 600).into();
            claims["nonce"] = request["nonce"].clone().into();
            let id_token = sign(&claims);
            Json(json!({"access_token": "fake-access-token", "token_type": "Bearer", "expires_in": 3600, "id_token": id_token}))
                .into_response()
        }
    }

    fn refuse(error: &str) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
    }

    // Microsoft: `{base}/{tenant}/v2.0` discovery, with the `{tenantid}` template for the
    // multi-tenant names.

    async fn microsoft_discovery(State(fake): State<Fake>, Path(tenant): Path<String>) -> Json<Value> {
        let base = fake.base();
        let issuer_tenant =
            if ["common", "organizations"].contains(&tenant.as_str()) { "{tenantid}" } else { TENANT_A };
        Json(json!({
            "issuer": format!("{base}/{issuer_tenant}/v2.0"),
            "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
            "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }))
    }

    async fn microsoft_token(
        State(fake): State<Fake>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        // `Basic` of `ms-client:ms-secret`.
        if headers.get(header::AUTHORIZATION).is_none_or(|auth| auth != "Basic bXMtY2xpZW50Om1zLXNlY3JldA==") {
            return refuse("invalid_client");
        }
        match fake.authorizer.redeem(&form) {
            Some(request) => fake.tokens(&request),
            None => refuse("invalid_grant"),
        }
    }

    /// Microsoft's claims for an account of `tenant`, whose token says it is issued by `iss_tenant`.
    fn microsoft_claims(iss_tenant: &str, tenant: &str) -> Value {
        json!({
            "iss": format!("{{base}}/{iss_tenant}/v2.0"),
            "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "tid": tenant,
            "oid": "00000000-0000-0000-66f3-3332eca7ea81",
            "email": "adele@contoso.example",
        })
    }

    async fn fake_microsoft(tenant: &str, claims: Value) -> (Fake, OidcProvider) {
        let authorizer = Authorizer::new("ms-client", REDIRECT_URL, "openid email");
        let fake = Fake::new(authorizer.clone(), claims);
        let app = Router::new()
            .route("/{tenant}/v2.0/.well-known/openid-configuration", get(microsoft_discovery))
            .route("/{tenant}/oauth2/v2.0/authorize", get(common::authorize).with_state(authorizer))
            .route("/{tenant}/oauth2/v2.0/token", post(microsoft_token))
            .route("/{tenant}/discovery/v2.0/keys", get(keys))
            .with_state(fake.clone());
        let base = common::serve(app).await;
        fake.base.set(base.clone()).unwrap();
        let http = HttpClient::new().unwrap();
        let provider =
            OidcProvider::microsoft_at(&http, &base, tenant, "ms-client", "ms-secret", REDIRECT_URL).await.unwrap();
        (fake, provider)
    }

    /// A whole sign-in: the user, or the error of `finish`.
    async fn sign_in(provider: &OidcProvider) -> Result<ProviderUser, Error> {
        let http = HttpClient::new().unwrap();
        let flow = flow();
        let start = provider.start(&flow).unwrap();
        let callback = authorize_at_fake(&start.authorization_url).await;
        provider.finish(&http, &flow, &callback, Some(&start.cookie.stripped().to_string())).await
    }

    #[tokio::test]
    async fn microsoft_multi_tenant_issuer_is_the_tokens_tenant() {
        let (fake, microsoft) = fake_microsoft("common", microsoft_claims(TENANT_A, TENANT_A)).await;
        assert_eq!(microsoft.provider_id(), "microsoft");
        assert!(!microsoft.uses_form_post());
        assert!(!Provider::uses_form_post(&microsoft), "the trait's answer is the inherent one");
        let debug = format!("{microsoft:?}");
        assert!(debug.contains("ms-client") && !debug.contains("ms-secret"), "{debug}");
        let user = sign_in(&microsoft).await.unwrap();
        let expected = ProviderUser {
            provider_id: "microsoft".into(),
            subject: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ".into(),
            email: Some("adele@contoso.example".into()),
            // Microsoft does not verify `email`.
            email_verified: false,
        };
        assert_eq!(user, expected);

        // Another tenant's account: its own issuer, accepted; `xms_edov` verifies the email.
        let mut claims = microsoft_claims(TENANT_B, TENANT_B);
        claims["xms_edov"] = true.into();
        fake.set_claims(claims);
        let user = sign_in(&microsoft).await.unwrap();
        assert!(user.email_verified);

        // The issuer of another tenant than the token's `tid`, or no `tid`: refused.
        fake.set_claims(microsoft_claims(TENANT_B, TENANT_A));
        let error = sign_in(&microsoft).await.unwrap_err();
        assert!(matches!(&error, Error::IdToken(reason) if reason.contains("issuer")), "{error:?}");
        let mut claims = microsoft_claims(TENANT_A, TENANT_A);
        claims.as_object_mut().unwrap().remove("tid");
        fake.set_claims(claims.clone());
        assert!(matches!(sign_in(&microsoft).await, Err(Error::IdToken(_))));
        claims["tid"] = json!([TENANT_A]);
        fake.set_claims(claims);
        assert!(matches!(sign_in(&microsoft).await, Err(Error::IdToken(_))));
        // The literal template as issuer is not a tenant's.
        fake.set_claims(microsoft_claims("{tenantid}", "{tenantid}"));
        assert!(matches!(sign_in(&microsoft).await, Err(Error::IdToken(_))));
    }

    #[tokio::test]
    async fn microsoft_single_tenant_refuses_other_tenants() {
        let (fake, microsoft) = fake_microsoft(TENANT_A, microsoft_claims(TENANT_A, TENANT_A)).await;
        sign_in(&microsoft).await.unwrap();
        fake.set_claims(microsoft_claims(TENANT_B, TENANT_B));
        let error = sign_in(&microsoft).await.unwrap_err();
        assert!(matches!(&error, Error::IdToken(_)), "{error:?}");
    }

    #[tokio::test]
    async fn microsoft_configuration_errors() {
        let http = HttpClient::new().unwrap();
        let error = OidcProvider::microsoft(&http, "a/b", "id", "secret", REDIRECT_URL).await.unwrap_err();
        assert!(matches!(error, Error::Configuration(_)), "{error:?}");
        // A discovery document at another authority than asked: refused.
        let (fake, _) = fake_microsoft("common", microsoft_claims(TENANT_A, TENANT_A)).await;
        let app = Router::new().route(
            "/elsewhere/{tenant}/v2.0/.well-known/openid-configuration",
            get(microsoft_discovery).with_state(fake.clone()),
        );
        let proxy_base = common::serve(app).await;
        let error =
            OidcProvider::microsoft_at(&http, &format!("{proxy_base}/elsewhere"), "common", "id", "s", REDIRECT_URL)
                .await
                .unwrap_err();
        assert!(matches!(&error, Error::Discovery(reason) if reason.contains("issuer")), "{error:?}");
    }

    // Apple: discovery at the issuer, client_secret_post with the signed client secret,
    // `form_post`, string booleans.

    async fn apple_discovery(State(fake): State<Fake>) -> Json<Value> {
        let base = fake.base();
        Json(json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth/authorize"),
            "token_endpoint": format!("{base}/auth/token"),
            "jwks_uri": format!("{base}/auth/keys"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "name"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "is_private_email", "iss", "nonce", "sub"],
        }))
    }

    /// Checks the client secret as Apple does: an ES256 JWT of the team's key, for this client.
    fn apple_client_secret_ok(fake: &Fake, secret: &str) -> bool {
        let parts: Vec<&str> = secret.split('.').collect();
        let [header, claims, signature] = parts[..] else { return false };
        let decode = |part: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).ok()?).ok();
        let (Some(header), Some(claims)) = (decode(header), decode(claims)) else { return false };
        let public = VerifyingKey::from(SigningKey::from_pkcs8_pem(APPLE_P8).unwrap());
        let signed =
            URL_SAFE_NO_PAD.decode(signature).ok().and_then(|bytes| Signature::from_slice(&bytes).ok()).is_some_and(
                |signature| public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).is_ok(),
            );
        let (iat, exp) = (claims["iat"].as_u64().unwrap_or(0), claims["exp"].as_u64().unwrap_or(0));
        signed
            && header == json!({"alg": "ES256", "kid": "KEY1234567"})
            && claims["iss"] == "TEAM123456"
            && claims["sub"] == fake.authorizer.client_id
            && claims["aud"] == fake.base()
            && iat <= now() + 5
            && exp > now()
            && exp - iat <= 15_777_000
    }

    async fn apple_token(
        State(fake): State<Fake>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        // client_secret_post only: the client id and secret are in the body.
        let secret_ok = form.get("client_secret").is_some_and(|secret| apple_client_secret_ok(&fake, secret));
        if headers.contains_key(header::AUTHORIZATION)
            || form.get("client_id").is_none_or(|id| id != "com.example.web")
            || !secret_ok
        {
            return refuse("invalid_client");
        }
        match fake.authorizer.redeem(&form) {
            Some(request) => fake.tokens(&request),
            None => refuse("invalid_grant"),
        }
    }

    fn apple_claims(email_verified: &str) -> Value {
        json!({
            "iss": "{base}",
            "sub": "001234.0123456789abcdef0123456789abcdef.1234",
            "email": "x7k2@privaterelay.appleid.com",
            "email_verified": email_verified,
            "is_private_email": "true",
            "auth_time": now(),
            "nonce_supported": true,
        })
    }

    async fn fake_apple(p8: &str) -> (Fake, OidcProvider) {
        let mut authorizer = Authorizer::new("com.example.web", REDIRECT_URL, "openid email");
        authorizer.form_post = true;
        let fake = Fake::new(authorizer.clone(), apple_claims("true"));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(apple_discovery))
            .route("/auth/authorize", get(common::authorize).with_state(authorizer))
            .route("/auth/token", post(apple_token))
            .route("/auth/keys", get(keys))
            .with_state(fake.clone());
        let base = common::serve(app).await;
        fake.base.set(base.clone()).unwrap();
        let http = HttpClient::new().unwrap();
        let secret = AppleClientSecret::new("TEAM123456", "KEY1234567", "com.example.web", p8).unwrap();
        let apple = OidcProvider::apple_at(&http, &base, secret, REDIRECT_URL).await.unwrap();
        (fake, apple)
    }

    #[tokio::test]
    async fn apple_form_post_flow_with_signed_client_secret() {
        let (fake, apple) = fake_apple(APPLE_P8).await;
        assert_eq!(apple.provider_id(), "apple");
        assert!(apple.uses_form_post());
        assert!(Provider::uses_form_post(&apple), "the trait's answer is the inherent one");
        assert_eq!(apple.flow_same_site(), cookie::SameSite::None);
        let debug = format!("{apple:?}");
        assert!(debug.contains("com.example.web") && !debug.contains("MIGHAgEA"), "{debug}");

        let http = HttpClient::new().unwrap();
        // Even when flow cookies are not `Secure` (development), Apple's is: `SameSite=None`
        // requires it.
        let flow = flow();
        let start = apple.start(&flow).unwrap();
        assert_eq!(start.cookie.same_site(), Some(cookie::SameSite::None));
        assert_eq!(start.cookie.secure(), Some(true));
        assert!(start.cookie.to_string().contains("SameSite=None"), "{}", start.cookie);
        let query: HashMap<_, _> = start.authorization_url.query_pairs().into_owned().collect();
        assert_eq!(query.get("response_mode").map(String::as_str), Some("form_post"));
        // The callback's parameters as the form body Apple's page posts.
        let body = authorize_at_fake(&start.authorization_url).await;
        let header = start.cookie.stripped().to_string();
        let user = apple.finish(&http, &flow, &body, Some(&header)).await.unwrap();
        let expected = ProviderUser {
            provider_id: "apple".into(),
            subject: "001234.0123456789abcdef0123456789abcdef.1234".into(),
            email: Some("x7k2@privaterelay.appleid.com".into()),
            email_verified: true,
        };
        assert_eq!(user, expected);

        // `"false"` as a string is false.
        fake.set_claims(apple_claims("false"));
        let user = sign_in(&apple).await.unwrap();
        assert_eq!((user.email.is_some(), user.email_verified), (true, false));
    }

    #[tokio::test]
    async fn apple_refuses_a_client_secret_signed_with_another_key() {
        let other = p256::SecretKey::from_slice(&[7; 32]).unwrap();
        let other_pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&other, Default::default()).unwrap();
        let (_fake, apple) = fake_apple(&other_pem).await;
        let error = sign_in(&apple).await.unwrap_err();
        assert!(
            matches!(&error, Error::TokenExchange { error: Some(code), .. } if code == "invalid_client"),
            "{error:?}"
        );
        assert!(!error.to_string().contains("eyJ"), "{error}");
    }
}
