//! A real, local OpenID Connect provider for flow tests: the npm `oidc-provider` (pinned in
//! `interop/oidc-provider`), started on a loopback port, with one confidential client
//! ([`CLIENT_ID`], [`CLIENT_SECRET`]) whose only redirect URL is the one given, and its
//! development login and consent pages (any login and password; the login becomes the
//! account's `sub`, and its email is `<login>@example.com`, verified unless the login starts
//! with `unverified`).
//!
//! Without `node` or `interop/oidc-provider/node_modules` (`npm ci --prefix
//! interop/oidc-provider`), [`OidcTestProvider::start`] returns `None` and says the test is
//! skipped, unless `LUCIA_TEST_REQUIRE_SERVERS=1`, which makes it a failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The client id registered with the provider.
pub const CLIENT_ID: &str = "lucia-test";
/// The client secret registered with the provider (test-only, loopback, one run).
pub const CLIENT_SECRET: &str = "lucia-test-secret";

/// A running provider, stopped when dropped.
#[derive(Debug)]
pub struct OidcTestProvider {
    /// Its issuer URL, `http://127.0.0.1:<port>`.
    pub issuer: String,
    child: Child,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("its address").port()
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/oidc-provider")
}

impl OidcTestProvider {
    /// The provider on a free port for a client redirecting to `redirect_url`, or `None`
    /// (test skipped) when node or the npm packages are missing.
    pub async fn start(redirect_url: &str) -> Option<Self> {
        Self::start_with(free_port(), redirect_url, false).await
    }

    /// The provider on `port`; with `email_in_id_token`, the ID token carries the email
    /// claims and there is no user-info endpoint. Each start signs with a new key, so a start
    /// on the port of a stopped provider is a key rotation.
    pub async fn start_with(port: u16, redirect_url: &str, email_in_id_token: bool) -> Option<Self> {
        let dir = interop_dir();
        let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|out| out.status.success());
        if !node || !dir.join("node_modules/oidc-provider").is_dir() {
            if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!(
                    "node or interop/oidc-provider/node_modules is missing, and LUCIA_TEST_REQUIRE_SERVERS=1 forbids skipping"
                );
            }
            eprintln!(
                "SKIPPED: node or interop/oidc-provider/node_modules is missing (npm ci --prefix interop/oidc-provider)"
            );
            return None;
        }
        let mut child = Command::new("node")
            .current_dir(&dir)
            .arg("server.mjs")
            .arg(port.to_string())
            .arg(redirect_url)
            .env("EMAIL_IN_ID_TOKEN", if email_in_id_token { "1" } else { "0" })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        // Generous: the provider makes a fresh RSA key at each start, and on a busy 2-core
        // machine (CI, builds beside the tests) node's start has been seen to take over 30 s.
        let issuer = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = lines.next_line().await.expect("the provider's output") {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    return issuer.to_owned();
                }
            }
            panic!("oidc-provider exited before listening");
        })
        .await
        .expect("oidc-provider listens within 120 s");
        // Keep reading: a closed pipe would end the provider at its next notice on stdout.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(Self { issuer, child })
    }

    /// Stops the provider now.
    pub async fn stop(&mut self) {
        self.child.kill().await.expect("the provider stops");
    }
}

/// The browser's part of a flow: from the authorization URL through the provider's login (as
/// `login`) and consent pages, following redirects by hand in a client with its own cookie
/// jar, until the provider redirects to a URL starting with `redirect_url`; returns that URL
/// (the callback, with its `code`, `state` and `iss`).
pub async fn sign_in_at_provider(authorization_url: &url::Url, login: &str, redirect_url: &str) -> url::Url {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut response = browser.get(authorization_url.clone()).send().await.unwrap();
    for _ in 0..20 {
        let url = response.url().clone();
        if let Some(location) = response.headers().get("location") {
            let next = url.join(location.to_str().unwrap()).unwrap();
            if next.as_str().starts_with(redirect_url) {
                return next;
            }
            response = browser.get(next).send().await.unwrap();
            continue;
        }
        let status = response.status();
        let page = response.text().await.unwrap();
        assert!(status.is_success(), "{status}: {page}");
        let action = page.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a form");
        let target = url.join(action).unwrap();
        let form: &[(&str, &str)] = if page.contains("name=\"login\"") {
            &[("prompt", "login"), ("login", login), ("password", "any")]
        } else {
            &[("prompt", "consent")]
        };
        response = browser.post(target).form(form).send().await.unwrap();
    }
    panic!("the provider did not redirect to the callback");
}
