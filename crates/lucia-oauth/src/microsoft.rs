//! Microsoft identity platform (Entra ID work and school accounts, personal Microsoft
//! accounts): OpenID Connect whose multi-tenant issuer is a template.
//!
//! For the tenants `common`, `organizations` and `consumers`, the discovery document's
//! `issuer` is `https://login.microsoftonline.com/{tenantid}/v2.0`, literally: each ID token's
//! `iss` names the tenant of the account instead, and its `tid` claim says which. The standard
//! issuer check (metadata issuer = discovery URL, ID token `iss` = metadata issuer) fails on
//! it, so this module fetches the metadata without the first check and replaces the second by
//! `iss == template with {tenantid} := tid` (or `iss == issuer` for a single tenant).

use openidconnect::{AsyncHttpClient, IssuerUrl, JsonWebKeySet};

use crate::oidc::{Dialect, ExtraClaims, ProviderMetadata};
use crate::{Error, HttpClient, OidcProvider};

/// The placeholder in Microsoft's multi-tenant issuer.
pub(crate) const TENANT_ID_TEMPLATE: &str = "{tenantid}";

/// Microsoft's global (public cloud) authority.
const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";

impl OidcProvider {
    /// Microsoft accounts, with the provider id `microsoft`: discovery at
    /// `https://login.microsoftonline.com/{tenant}/v2.0`.
    ///
    /// `tenant` says who can sign in: `common` (any Entra ID organization and personal
    /// Microsoft accounts), `organizations` (any Entra ID organization), `consumers` (personal
    /// accounts only), or one tenant's id (a GUID) or domain (such as
    /// `contoso.onmicrosoft.com`) for that organization only. With the multi-tenant values,
    /// each ID token's issuer must be the one of the tenant its `tid` claim names; with one
    /// tenant, exactly that tenant's issuer ([`Error::IdToken`] otherwise).
    ///
    /// The subject is the ID token's `sub`: stable, and pairwise (the same account has another
    /// `sub` in another application), which is what a key of one application needs.
    ///
    /// **Email**: Microsoft does not verify the `email` claim in general (a tenant's
    /// administrator can set any address on an account), so [`ProviderUser::email_verified`]
    /// is `false`, unless the token carries the optional claim `xms_edov` ("email domain owner
    /// verified") set to true; add it as an optional claim of the ID token in the app
    /// registration ("Token configuration") to get it. Do not link accounts by an unverified
    /// email. The email comes from the ID token only (the `email` scope); there is no
    /// user-info request.
    ///
    /// Register the application in the Microsoft Entra admin center
    /// (<https://entra.microsoft.com>, "App registrations", "New registration"): choose the
    /// supported account types that match `tenant`, and add a "Web" redirect URI, the callback
    /// route (such as `https://app.example.com/login/microsoft/callback`). The client id is the
    /// "Application (client) ID"; create the client secret under "Certificates & secrets".
    ///
    /// Errors: [`Error::Configuration`] (an invalid tenant or URL), [`Error::Discovery`].
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), lucia_oauth::Error> {
    /// let http = lucia_oauth::HttpClient::new()?;
    /// let microsoft = lucia_oauth::OidcProvider::microsoft(
    ///     &http,
    ///     "common",
    ///     "client-id",
    ///     "client-secret",
    ///     "https://app.example.com/login/microsoft/callback",
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [`ProviderUser::email_verified`]: crate::ProviderUser::email_verified
    pub async fn microsoft(
        http: &HttpClient,
        tenant: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        Self::microsoft_at(http, MICROSOFT_AUTHORITY, tenant, client_id, client_secret, redirect_url).await
    }

    /// [`microsoft`](Self::microsoft) at another authority than
    /// `https://login.microsoftonline.com`: a national cloud (such as
    /// `https://login.microsoftonline.us`), or a local fake in tests. Discovery is at
    /// `{authority}/{tenant}/v2.0`, and the metadata's issuer must be
    /// `{authority}/<tenant id or {tenantid}>/v2.0`.
    pub async fn microsoft_at(
        http: &HttpClient,
        authority: &str,
        tenant: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        if !valid_tenant(tenant) {
            return Err(Error::Configuration(format!("invalid Microsoft tenant {tenant:?}")));
        }
        let issuer = format!("{}/{tenant}/v2.0", authority.trim_end_matches('/'));
        let client = (client_id.into(), Some(client_secret.into()));
        Self::discover_dialect(http, "microsoft".into(), &issuer, client, redirect_url, Dialect::Microsoft).await
    }
}

/// A tenant name, id or domain: one path segment.
fn valid_tenant(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant.len() <= 256
        && tenant.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_'))
        && !tenant.starts_with('.')
}

/// The discovery document at `{discovery_url}/.well-known/openid-configuration`, whose
/// issuer must be `{authority}/<segment>/v2.0` at the same authority, and its keys.
pub(crate) async fn discover(http: &HttpClient, discovery_url: &IssuerUrl) -> Result<ProviderMetadata, Error> {
    let failed = |error: &dyn std::fmt::Display| Error::Discovery(error.to_string());
    let url = discovery_url.join(".well-known/openid-configuration").map_err(|error| failed(&error))?;
    let request = http::Request::builder()
        .uri(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|error| failed(&error))?;
    let response = http.call(request).await.map_err(|error| failed(&error))?;
    if !response.status().is_success() {
        return Err(Error::Discovery(format!("discovery document: HTTP {}", response.status())));
    }
    let metadata: ProviderMetadata =
        serde_json::from_slice(response.body()).map_err(|error| failed(&format!("discovery document: {error}")))?;
    let authority = discovery_url.url().as_str().trim_end_matches('/');
    let authority = authority.strip_suffix("/v2.0").and_then(|rest| rest.rsplit_once('/')).map(|(base, _)| base);
    let tenant = authority.and_then(|authority| {
        metadata.issuer().as_str().strip_prefix(authority)?.strip_prefix('/')?.strip_suffix("/v2.0")
    });
    if !tenant.is_some_and(|tenant| tenant == TENANT_ID_TEMPLATE || valid_tenant(tenant)) {
        return Err(Error::Discovery("the discovery document names another issuer".into()));
    }
    let keys = JsonWebKeySet::fetch_async(metadata.jwks_uri(), http).await.map_err(|error| failed(&error))?;
    Ok(metadata.set_jwks(keys))
}

/// Checks a verified ID token's `iss` against the metadata's `issuer`: the template with
/// `{tenantid}` replaced by the token's `tid`, or the issuer itself for a single tenant.
pub(crate) fn check_issuer(issuer: &str, iss: &str, tid: Option<&str>) -> Result<(), &'static str> {
    let expected = if issuer.contains(TENANT_ID_TEMPLATE) {
        let tid = tid.filter(|tid| valid_tenant(tid)).ok_or("the ID token has no valid tenant id (tid)")?;
        issuer.replace(TENANT_ID_TEMPLATE, tid)
    } else {
        issuer.to_owned()
    };
    if iss == expected { Ok(()) } else { Err("the ID token's issuer is not its tenant's") }
}

/// Whether Microsoft says the email's domain owner verified it (`xms_edov`, a boolean or the
/// string `"true"`/`"1"`).
pub(crate) fn email_verified(claims: &ExtraClaims) -> bool {
    match &claims.xms_edov {
        Some(serde_json::Value::Bool(verified)) => *verified,
        Some(serde_json::Value::String(verified)) => verified == "true" || verified == "1",
        Some(serde_json::Value::Number(verified)) => verified.as_u64() == Some(1),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TENANT_A: &str = "https://login.microsoftonline.com/aaaaaaaa-0000-0000-0000-000000000001/v2.0";

    #[test]
    fn issuer_is_the_template_with_the_tokens_tenant() {
        assert_eq!(check_issuer(TEMPLATE, TENANT_A, Some("aaaaaaaa-0000-0000-0000-000000000001")), Ok(()));
        assert!(check_issuer(TEMPLATE, TENANT_A, Some("bbbbbbbb-0000-0000-0000-000000000002")).is_err());
        assert!(check_issuer(TEMPLATE, TENANT_A, None).is_err());
        assert!(check_issuer(TEMPLATE, "https://login.microsoftonline.com/x/y/v2.0", Some("x/y")).is_err());
        // A single tenant: exactly its issuer, whatever `tid` says.
        assert_eq!(check_issuer(TENANT_A, TENANT_A, None), Ok(()));
        let other = TENANT_A.replace("aaaaaaaa", "bbbbbbbb");
        assert!(check_issuer(TENANT_A, &other, Some("bbbbbbbb-0000-0000-0000-000000000002")).is_err());
    }

    #[test]
    fn email_is_verified_only_with_xms_edov() {
        let claims = |xms_edov: Option<serde_json::Value>| ExtraClaims { tid: None, xms_edov };
        assert!(!email_verified(&claims(None)));
        assert!(!email_verified(&claims(Some(false.into()))));
        assert!(!email_verified(&claims(Some("yes".into()))));
        assert!(email_verified(&claims(Some(true.into()))));
        assert!(email_verified(&claims(Some("true".into()))));
    }

    #[test]
    fn tenants_are_one_path_segment() {
        for tenant in ["common", "organizations", "consumers", "contoso.onmicrosoft.com", "9188040d-6c67-4c5b"] {
            assert!(valid_tenant(tenant), "{tenant}");
        }
        for tenant in ["", "a/b", "..", "a?b", "{tenantid}", "a b"] {
            assert!(!valid_tenant(tenant), "{tenant}");
        }
    }
}
