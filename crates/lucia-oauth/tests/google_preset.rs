//! The Google preset without network: accounts.google.com cannot be reached from tests, so the
//! provider's HTTP client goes through a local proxy that records where discovery went, and
//! refuses it.

use std::sync::{Arc, Mutex};

use lucia_oauth::{Error, HttpClient, OidcProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn google_discovers_at_accounts_google_com() {
    assert_eq!(OidcProvider::GOOGLE_ISSUER, "https://accounts.google.com");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(String::new()));
    let recorded = seen.clone();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0; 4096];
        let read = socket.read(&mut request).await.unwrap();
        *recorded.lock().unwrap() = String::from_utf8_lossy(&request[..read]).into_owned();
        socket.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await.unwrap();
    });
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(&proxy).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let http = HttpClient::from_reqwest(client);
    let error = OidcProvider::google(&http, "id.apps.googleusercontent.com", "google-secret", "https://app.example/cb")
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Discovery(_)), "{error:?}");
    assert!(!error.to_string().contains("google-secret"));
    let seen = seen.lock().unwrap().clone();
    // Without TLS (the default features) reqwest asks the proxy for the URL itself; with TLS
    // (`rustls-ring`) it tunnels to the host.
    let discovery = "GET https://accounts.google.com/.well-known/openid-configuration ";
    assert!(seen.starts_with(discovery) || seen.starts_with("CONNECT accounts.google.com:443 "), "{seen:?}");
}
