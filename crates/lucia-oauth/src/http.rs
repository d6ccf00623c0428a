//! The HTTP client for provider requests: `openidconnect` and `oauth2` over the workspace's
//! reqwest 0.13 (their built-in `reqwest` feature would add reqwest 0.12).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::Error;

/// Largest provider response read (discovery documents, key sets and tokens are a few KiB);
/// a bigger one is an error, not an allocation the provider chooses.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// An HTTP client for talking to providers: no redirects followed (as the OAuth 2.0 security
/// advice asks, so that a token request cannot be sent elsewhere), 10 s timeouts, responses up
/// to 1 MiB.
///
/// HTTPS needs the crate's `rustls-ring` feature (rustls with the `ring` provider and Mozilla's
/// root certificates). Without it, [`HttpClient::new`] makes a client for plain `http://`
/// only, which is what a provider on loopback in tests needs.
///
/// ```
/// let http = lucia_oauth::HttpClient::new()?;
/// # Ok::<(), lucia_oauth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    /// The default client (see the type's docs).
    pub fn new() -> Result<Self, Error> {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(10));
        #[cfg(feature = "rustls-ring")]
        let builder = builder.tls_backend_preconfigured(rustls_ring_config()?);
        let client = builder.build().map_err(|error| Error::Configuration(format!("HTTP client: {error}")))?;
        Ok(Self { client })
    }

    /// Wraps a client the application configured itself. It should not follow redirects.
    pub fn from_reqwest(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// The underlying reqwest client.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }
}

#[cfg(feature = "rustls-ring")]
fn rustls_ring_config() -> Result<rustls::ClientConfig, Error> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Configuration(format!("TLS: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Why a request to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Sending the request or reading the response failed.
    #[error("request to the provider failed: {0}")]
    Request(#[from] reqwest::Error),
    /// The response was larger than 1 MiB.
    #[error("the provider's response is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    /// The response could not be turned into an `http::Response`.
    #[error("invalid response from the provider: {0}")]
    Http(#[from] http::Error),
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)?;
            let mut response = self.client.execute(request).await?;
            let mut builder = http::Response::builder().status(response.status()).version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_body(&mut response).await?;
            Ok(builder.body(body)?)
        })
    }
}

/// A provider response's body, refused past [`MAX_RESPONSE_BYTES`].
pub(crate) async fn read_body(response: &mut reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
