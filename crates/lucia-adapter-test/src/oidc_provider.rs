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

/// How many times [`OidcTestProvider::start`] tries to start the provider.
const START_ATTEMPTS: usize = 3;

/// How long one start may take to listen. Generous: the provider makes a fresh RSA key at
/// each start, and on a busy 2-core machine (CI, builds beside the tests) node's start has
/// been seen to take over 30 s.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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
        Self::launch(None, redirect_url, false).await
    }

    /// The provider on `port`; with `email_in_id_token`, the ID token carries the email
    /// claims and there is no user-info endpoint. Each start signs with a new key, so a start
    /// on the port of a stopped provider is a key rotation.
    pub async fn start_with(port: u16, redirect_url: &str, email_in_id_token: bool) -> Option<Self> {
        Self::launch(Some(port), redirect_url, email_in_id_token).await
    }

    /// Starts the provider, up to [`START_ATTEMPTS`] times: a start that does not listen
    /// within [`START_TIMEOUT`] is killed and tried again (on a new free port unless `port`
    /// is given). One start in CI once never printed that it listened, for 120 s, while ten
    /// others beside it did within seconds; each failure's stderr is reported.
    async fn launch(port: Option<u16>, redirect_url: &str, email_in_id_token: bool) -> Option<Self> {
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
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = port.unwrap_or_else(free_port);
            match Self::spawn(&dir, port, redirect_url, email_in_id_token).await {
                Ok(provider) => return Some(provider),
                Err(failure) => {
                    eprintln!("oidc-provider on port {port} did not start: {failure}");
                    failures.push(failure);
                }
            }
        }
        panic!("oidc-provider did not start in {START_ATTEMPTS} attempts: {failures:?}");
    }

    /// One start: the provider once it prints that it listens, or why it did not.
    async fn spawn(
        dir: &std::path::Path,
        port: u16,
        redirect_url: &str,
        email_in_id_token: bool,
    ) -> Result<Self, String> {
        let mut child = Command::new("node")
            .current_dir(dir)
            .arg("server.mjs")
            .arg(port.to_string())
            .arg(redirect_url)
            .env("EMAIL_IN_ID_TOKEN", if email_in_id_token { "1" } else { "0" })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("node does not start: {error}"))?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        // Its stderr (development warnings; an error if it fails), kept to report a failure.
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut errors = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let sink = std::sync::Arc::clone(&stderr);
        tokio::spawn(async move {
            while let Ok(Some(line)) = errors.next_line().await {
                let mut text = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if text.len() < 4096 {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        let listening = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    return Some(issuer.to_owned());
                }
            }
            None
        })
        .await;
        let stderr = || stderr.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        match listening {
            Ok(Some(issuer)) => {
                // Keep reading: a closed pipe would end the provider at its next notice on stdout.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                Ok(Self { issuer, child })
            }
            Ok(None) => Err(format!("it exited before listening; stderr: {}", stderr())),
            Err(_) => {
                let _ = child.kill().await;
                Err(format!("no \"listening\" within {START_TIMEOUT:?}; stderr: {}", stderr()))
            }
        }
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
