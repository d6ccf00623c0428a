//! A headless Chromium driven over WebDriver (thirtyfour): chromedriver on a free loopback
//! port, a throwaway profile, and helpers that panic with the selector or URL on failure.
//! Dropping a [`Browser`] ends the session, stops chromedriver and removes the profile.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them
//! [`Browser::start`] says the test is skipped, unless `LUCIA_TEST_REQUIRE_BROWSER=1`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{Value, json};
use thirtyfour::common::command::{Command as WebDriverCommand, ExtensionCommand};
use thirtyfour::prelude::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long navigation after a click or Enter, or an element, may take to appear.
const WAIT: Duration = Duration::from_secs(15);

pub struct Browser {
    /// Declared first, so dropped first: thirtyfour's `Drop` ends the session (and Chromium)
    /// while chromedriver still runs.
    driver: WebDriver,
    _chromedriver: Chromedriver,
}

/// The chromedriver process and Chromium's profile directory, both gone when dropped.
struct Chromedriver {
    process: Child,
    profile: PathBuf,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// `None` (the test is skipped) without Chromium and chromedriver.
    pub async fn start() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            if std::env::var("LUCIA_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{CHROMIUM} and {CHROMEDRIVER} are required (apt-get install chromium chromium-driver)");
            }
            eprintln!("SKIPPED: install chromium and chromium-driver to run the browser test");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!("lucia-chromium-{}", lucia::generate_random_string(8)));
        let chromedriver = Chromedriver { process, profile };
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut capabilities = DesiredCapabilities::chrome();
        capabilities.set_binary(CHROMIUM).unwrap();
        // The flags keep Chromium off the (closed) network and independent of the machine.
        let profile_flag = format!("--user-data-dir={}", chromedriver.profile.display());
        for flag in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1024,900",
            &profile_flag,
        ] {
            capabilities.add_arg(flag).unwrap();
        }
        let driver = WebDriver::new(base, capabilities).await.expect("a Chromium session");
        Some(Self { driver, _chromedriver: chromedriver })
    }

    pub async fn goto(&self, url: &str) {
        self.driver.goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    async fn find(&self, css: &str) -> WebElement {
        self.driver.find(By::Css(css)).await.unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Clears a field and types `text` into it, key by key (`"\u{E007}"` is Enter).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// The text of the first element matching `css`, once there is one (a form posted by a
    /// click re-renders asynchronously).
    pub async fn wait_for_text(&self, css: &str) -> String {
        self.wait_for_text_where(css, |_| true).await
    }

    /// Waits until the first element matching `css` reads `expected` (the element of the page
    /// a click leaves may still be there, or go stale while it is read).
    pub async fn wait_for_text_eq(&self, css: &str, expected: &str) {
        self.wait_for_text_where(css, |text| text == expected).await;
    }

    async fn wait_for_text_where(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let seen = match self.driver.find(By::Css(css)).await {
                Ok(element) => element.text().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match seen {
                Ok(text) if wanted(&text) => return text,
                seen => assert!(Instant::now() < deadline, "{css}: {seen:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn script(&self, script: &str) -> Value {
        let returned = self.driver.execute(script, Vec::new()).await.unwrap_or_else(|e| panic!("{script}: {e}"));
        returned.json().clone()
    }

    /// The value of a cookie of the current page's site, `HttpOnly` ones included.
    pub async fn cookie(&self, name: &str) -> String {
        self.driver.get_named_cookie(name).await.unwrap_or_else(|e| panic!("no cookie {name}: {e}")).value
    }

    /// The current page's HTML, as the browser holds it.
    pub async fn source(&self) -> String {
        self.driver.source().await.unwrap()
    }

    /// Waits for the page at `path` (with its query; navigation after a click or Enter is
    /// asynchronous).
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.driver.current_url().await.unwrap();
            if &url[url::Position::BeforePath..] == path {
                return;
            }
            assert!(Instant::now() < deadline, "expected {path}, still at {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Checks what a screen reader and a keyboard need on the current page: a language, a
    /// title, one `h1`, a label for every field, a name for every button.
    pub async fn assert_accessible(&self) {
        const CHECK: &str = r#"
            const problems = [];
            if (!document.documentElement.lang) problems.push("no lang on <html>");
            if (!document.title) problems.push("no <title>");
            if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
            for (const field of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
                if (field.labels.length === 0 && !field.getAttribute("aria-label")) problems.push("unlabelled field " + field.name);
            }
            for (const button of document.querySelectorAll("button")) {
                if (!(button.getAttribute("aria-label") || button.textContent).trim()) problems.push("unnamed button");
            }
            for (const error of document.querySelectorAll(".error")) {
                if (error.getAttribute("role") !== "alert") problems.push("error not announced");
            }
            return problems;"#;
        let problems = self.script(CHECK).await;
        let url = self.driver.current_url().await.unwrap();
        assert_eq!(problems, json!([]), "accessibility problems on {url}");
    }

    /// Adds a virtual authenticator to the session (the W3C WebAuthn extension of WebDriver,
    /// which chromedriver implements): a platform authenticator (CTAP2, internal) that holds
    /// discoverable credentials and verifies the user without asking. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let id = self.extension(Method::POST, "/webauthn/authenticator".into(), Some(options)).await;
        id.as_str().unwrap_or_else(|| panic!("an authenticator id, not {id}")).to_owned()
    }

    /// The credentials the virtual authenticator `id` holds.
    pub async fn virtual_credentials(&self, id: &str) -> Vec<Value> {
        let credentials = self.extension(Method::GET, format!("/webauthn/authenticator/{id}/credentials"), None).await;
        credentials.as_array().unwrap_or_else(|| panic!("a list, not {credentials}")).clone()
    }

    /// Sends a WebDriver extension command (`method` `/session/{id}{endpoint}`) and returns
    /// its `value`.
    async fn extension(&self, method: Method, endpoint: String, body: Option<Value>) -> Value {
        let command = Extension { method, endpoint: endpoint.clone().into(), body };
        let response = self.driver.handle().cmd(WebDriverCommand::ExtensionCommand(Box::new(command))).await;
        let response = response.unwrap_or_else(|e| panic!("{endpoint}: {e}"));
        response.value_json().unwrap_or_else(|e| panic!("{endpoint}: {e}"))
    }

    /// Saves the current page as `name` (a PNG) in Cargo's temporary directory for tests.
    pub async fn screenshot(&self, name: &str) {
        let png = self.driver.screenshot_as_png().await.unwrap();
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

/// A WebDriver command thirtyfour has no method for.
#[derive(Debug)]
struct Extension {
    method: Method,
    endpoint: std::sync::Arc<str>,
    body: Option<Value>,
}

impl ExtensionCommand for Extension {
    fn parameters_json(&self) -> Option<Value> {
        self.body.clone()
    }

    fn method(&self) -> Method {
        self.method.clone()
    }

    fn endpoint(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.endpoint)
    }
}
