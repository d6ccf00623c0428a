//! End to end in a real headless Chromium, driven over WebDriver (chromedriver): sign up,
//! sign out, sign in with the keyboard only, and see the account page; with three clients
//! signed in, the account page holds no session token, and revokes a session by its handle.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); skipped without
//! them unless `LUCIA_TEST_REQUIRE_BROWSER=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{App, cookie_token, unique_name};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session; both end when dropped.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    async fn start() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            if std::env::var("LUCIA_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{CHROMIUM} and {CHROMEDRIVER} are required (apt-get install chromium chromium-driver)");
            }
            eprintln!("SKIPPED: install chromium and chromium-driver to run the browser test");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!("lucia-chromium-{}", lucia::generate_random_string(8)));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The flags keep Chromium off the (closed) network and independent of the machine.
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1024,900", format!("--user-data-dir={}", profile.display()),
            ]},
        }}});
        let response: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session = response["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {response}"));
        let session = format!("{base}/session/{session}");
        Some(Self { http, session, driver, profile })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(response["value"].get("error").is_none(), "WebDriver {path}: {response}");
        response["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .command(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": css })))
            .await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text }))).await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.command(reqwest::Method::GET, &format!("/element/{element}/text"), None).await.as_str().unwrap().to_owned()
    }

    /// Checks what a screen reader and a keyboard need on the current page: a language, a
    /// title, one `h1`, a label for every field, a name for every button.
    async fn assert_accessible(&self) {
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
        let problems =
            self.command(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": CHECK, "args": [] }))).await;
        let url = self.current_url().await;
        assert_eq!(problems, json!([]), "accessibility problems on {url}");
    }

    /// The value of a cookie of the current page's site, `HttpOnly` ones included.
    async fn cookie(&self, name: &str) -> String {
        let cookie = self.command(reqwest::Method::GET, &format!("/cookie/{name}"), None).await;
        cookie["value"].as_str().unwrap_or_else(|| panic!("no cookie {name}: {cookie}")).to_owned()
    }

    /// The current page's HTML, as the browser holds it.
    async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None).await.as_str().unwrap().to_owned()
    }

    async fn script(&self, script: &str) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] }))).await
    }

    async fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None).await.as_str().unwrap().to_owned()
    }

    /// Waits for the page at `path` (navigation after a click or Enter is asynchronous).
    async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.current_url().await;
            if url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])) == Some(path) {
                return;
            }
            assert!(Instant::now() < deadline, "expected {path}, still at {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        use std::io::Write as _;
        let data = self.command(reqwest::Method::GET, "/screenshot", None).await;
        let png = decode_base64(data.as_str().unwrap());
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::File::create(&path).and_then(|mut file| file.write_all(&png)).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    digits
        .chunks(4)
        .flat_map(|chunk| {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(chunk.len() - 1)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_sign_out_sign_in_in_chromium() {
    let Some(browser) = Browser::start().await else { return };
    let app = App::start().await;
    let name = unique_name();
    let password = "a long enough password";

    // Sign up with the mouse. A password the policy refuses first: its sentence appears under
    // the password field, announced, and the username is kept.
    browser.goto(&app.url("/signup")).await;
    browser.assert_accessible().await;
    browser.type_into("#username", &name).await;
    browser.type_into("#password", "password123").await;
    browser.click("main form button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let rejection = loop {
        let text = browser.script("return document.querySelector('#password-error')?.textContent ?? null").await;
        if let Some(text) = text.as_str() {
            break text.to_owned();
        }
        assert!(Instant::now() < deadline, "no password error shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(rejection.starts_with("The password is too easy to guess."), "{rejection}");
    let described = browser.script("return document.querySelector('#password').getAttribute('aria-describedby')").await;
    assert!(described.as_str().is_some_and(|ids| ids.contains("password-error")), "{described}");
    browser.assert_accessible().await;
    browser.screenshot("demo-signup-weak-password.png").await;
    browser.type_into("#password", password).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("h1").await, "Your account");
    assert_eq!(browser.text("#account-username").await, name);
    assert!(browser.text("tbody").await.contains("this device"));
    browser.assert_accessible().await;

    // Sign out from the navigation bar.
    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login?notice=signed-out").await;
    assert_eq!(browser.text("[role=status]").await, "You have signed out.");
    browser.assert_accessible().await;
    browser.goto(&app.url("/account")).await;
    browser.wait_for_path("/login").await;

    // Sign in with the keyboard only: type, then Enter submits the form.
    browser.type_into("#username", &name).await;
    browser.type_into("#password", &format!("{password}\u{E007}")).await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#account-username").await, name);
    assert!(browser.text("header nav").await.contains(&format!("Signed in as {name}")));
    browser.screenshot("demo-account.png").await;

    // A wrong password shows the error where a screen reader announces it.
    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login?notice=signed-out").await;
    browser.type_into("#username", &name).await;
    browser.type_into("#password", "not the password\u{E007}").await;
    browser.wait_for_path("/login").await;
    assert_eq!(browser.text("[role=alert]").await, "Incorrect username or password.");
    browser.assert_accessible().await;
    browser.screenshot("demo-login-error.png").await;
    browser.quit().await;
}

/// Three clients signed in as one user (this Chromium, a second browser, an API client): the
/// account page Chromium gets holds none of their session tokens, its own included, and
/// "Sign out this one" revokes another session by its handle.
#[tokio::test(flavor = "multi_thread")]
async fn the_account_page_holds_no_foreign_token_in_chromium() {
    let Some(browser) = Browser::start().await else { return };
    let app = App::start().await;
    let name = unique_name();
    let password = "a long enough password";

    browser.goto(&app.url("/signup")).await;
    browser.type_into("#username", &name).await;
    browser.type_into("#password", &format!("{password}\u{E007}")).await;
    browser.wait_for_path("/account").await;
    let own = browser.cookie("auth_session").await;
    assert_eq!(own.len(), 40);
    assert_eq!(browser.script("return document.cookie").await, json!(""), "the cookie is HttpOnly");

    // A second browser signs in with the form, an API client with /api/login.
    let other_browser = app.browser();
    let response = other_browser
        .post(app.url("/login"))
        .form(&[("username", name.as_str()), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    let second = cookie_token(response.headers()["set-cookie"].to_str().unwrap());
    let credentials = json!({ "username": name, "password": password });
    let response = app.api().post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    let third = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let tokens = [own, second, third];

    browser.goto(&app.url("/account")).await;
    let html = browser.source().await;
    assert_eq!(html.matches("Sign out this one").count(), 2, "two other sessions listed");
    for token in &tokens {
        assert!(!html.contains(token.as_str()), "a session token in the account page");
    }
    let hidden = browser
        .script(r#"return [...document.querySelectorAll("input[type=hidden]")].map(i => i.name + "=" + i.value)"#)
        .await;
    for field in hidden.as_array().unwrap() {
        let field = field.as_str().unwrap();
        let handle = field.strip_prefix("session=").unwrap_or_else(|| panic!("unexpected hidden field {field}"));
        assert!(handle.parse::<lucia::SessionHandle>().is_ok() && !tokens.iter().any(|t| t == handle));
    }
    browser.assert_accessible().await;

    // Revoke the API client's session (no User-Agent: "Unknown device") by its handle.
    let api_alive = |token: String| {
        let request = app.api().get(app.url("/api/me")).header("authorization", format!("Bearer {token}"));
        async move { request.send().await.unwrap().status() == reqwest::StatusCode::OK }
    };
    assert!(api_alive(tokens[2].clone()).await);
    browser.click("button[aria-label='Sign out the session on Unknown device']").await;
    browser.wait_for_path("/account?notice=revoked").await;
    assert_eq!(browser.text("[role=status]").await, "That session has been signed out.");
    assert!(!api_alive(tokens[2].clone()).await, "the API session ended");
    assert!(api_alive(tokens[1].clone()).await, "the other browser's did not");
    assert!(api_alive(tokens[0].clone()).await, "nor Chromium's");

    // Then the other browser's: the only one left to revoke. From a fresh `/account`, so that
    // waiting for `?notice=revoked` waits for this revocation, not the one above.
    browser.goto(&app.url("/account")).await;
    browser.wait_for_path("/account").await;
    browser.click("form[action='/account/sessions/revoke'] button").await;
    browser.wait_for_path("/account?notice=revoked").await;
    let response = other_browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(response.headers()["location"], "/login", "the other browser is signed out");
    assert!(browser.text("main").await.contains("You are signed in on this device only."));
    browser.quit().await;
}
