//! End to end in a real headless Chromium, driven over WebDriver (chromedriver): sign up with
//! the emailed code, sign out, sign in with the keyboard only, and see the account page; with
//! three clients signed in, the account page holds no session token, and revokes a session by
//! its handle; with mail through a real SMTP server (aiosmtpd), sign up with verification and
//! a whole password reset from the "forgot password" link to signing in with the new password;
//! "Sign in with oidc" through a real local OpenID Connect provider (its login and consent
//! pages), landing signed in with the provider listed as a sign-in method that cannot be
//! removed while it is the only one; an authenticator app set up and asked for at sign-in; a
//! passkey added and signed in with through a virtual authenticator.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); skipped without
//! them unless `LUCIA_TEST_REQUIRE_BROWSER=1` (see [`Browser::start`]).

mod common;

use common::browser::Browser;
use common::smtp::SmtpServer;
use common::{App, cookie_token, email_of, unique_name};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

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
    browser.fill("#username", &name).await;
    browser.fill("#email", &email_of(&name)).await;
    browser.fill("#password", "password123").await;
    browser.click("main form button[type=submit]").await;
    let rejection = browser.wait_for_text("#password-error").await;
    assert!(rejection.starts_with("The password is too easy to guess."), "{rejection}");
    let described = browser.script("return document.querySelector('#password').getAttribute('aria-describedby')").await;
    assert!(described.as_str().is_some_and(|ids| ids.contains("password-error")), "{described}");
    browser.assert_accessible().await;
    browser.screenshot("demo-signup-weak-password.png").await;
    browser.fill("#password", password).await;
    browser.click("main form button[type=submit]").await;
    // The code from the mail (the development mailer's folder here).
    browser.wait_for_path("/verify-email").await;
    browser.assert_accessible().await;
    browser.fill("#code", &app.nth_code(&email_of(&name), 1).await).await;
    browser.click("main form[action='/verify-email'] button").await;
    browser.wait_for_path("/account?notice=email-verified").await;
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
    browser.fill("#username", &name).await;
    browser.fill("#password", &format!("{password}\u{E007}")).await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#account-username").await, name);
    assert!(browser.text("header nav").await.contains(&format!("Signed in as {name}")));
    browser.screenshot("demo-account.png").await;

    // A wrong password shows the error where a screen reader announces it.
    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login?notice=signed-out").await;
    browser.fill("#username", &name).await;
    browser.fill("#password", "not the password\u{E007}").await;
    browser.wait_for_path("/login").await;
    assert_eq!(browser.text("[role=alert]").await, "Incorrect username or password.");
    browser.assert_accessible().await;
    browser.screenshot("demo-login-error.png").await;
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
    browser.fill("#username", &name).await;
    browser.fill("#email", &email_of(&name)).await;
    browser.fill("#password", &format!("{password}\u{E007}")).await;
    browser.wait_for_path("/verify-email").await;
    browser.fill("#code", &format!("{}\u{E007}", app.nth_code(&email_of(&name), 1).await)).await;
    browser.wait_for_path("/account?notice=email-verified").await;
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
        // The sign-in methods' "Remove" forms name a key (`username:<name>`), not a session.
        if let Some(key) = field.strip_prefix("key=") {
            assert!(key.starts_with("username:") && !tokens.iter().any(|t| key.contains(t.as_str())), "{key}");
            continue;
        }
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
}

/// With a real SMTP server: sign up, enter the code from the mail, sign out, "forgot
/// password", open the link from the mail, choose a new password (a weak one first), and
/// sign in with it; the old password no longer works.
#[tokio::test(flavor = "multi_thread")]
async fn sign_up_with_verification_and_reset_the_password_over_smtp_in_chromium() {
    let Some(browser) = Browser::start().await else { return };
    let Some(smtp) = SmtpServer::start() else { return };
    let app = App::start_with(lucia_demo::Config { smtp_url: Some(smtp.url()), ..Default::default() }).await;
    let name = unique_name();
    let email = email_of(&name);
    let (password, new_password) = ("a long enough password", "an even longer new passphrase");

    browser.goto(&app.url("/signup")).await;
    browser.fill("#username", &name).await;
    browser.fill("#email", &email).await;
    browser.fill("#password", password).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/verify-email").await;
    assert!(browser.text("main").await.contains(&format!("We sent a code to {email}.")));
    assert!(!browser.source().await.contains("No mail server is configured"), "mail went by SMTP");
    // Leaving the page does not skip it.
    browser.goto(&app.url("/account")).await;
    browser.wait_for_path("/verify-email").await;
    let mail = smtp.mail_to(&email, |mail| mail.contains("verification code")).await;
    assert!(mail.contains("Subject: Your verification code") && mail.contains("no-reply@localhost>"), "{mail}");
    browser.fill("#code", &common::verification_code(&mail)).await;
    browser.click("main form[action='/verify-email'] button").await;
    browser.wait_for_path("/account?notice=email-verified").await;
    assert_eq!(browser.text("#account-email").await, format!("{email} verified"));
    browser.screenshot("demo-email-verified.png").await;

    // Signed out, the password forgotten.
    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login?notice=signed-out").await;
    browser.click("a[href='/forgot-password']").await;
    browser.wait_for_path("/forgot-password").await;
    browser.assert_accessible().await;
    browser.fill("#email", &format!("{}\u{E007}", email.to_uppercase())).await;
    let sent = browser.wait_for_text("[role=status]").await;
    assert!(sent.starts_with("If an account uses that address"), "{sent}");
    let mail = smtp.mail_to(&email, |mail| mail.contains("reset-password?token=")).await;
    let link = common::reset_link(&mail);
    assert!(link.starts_with(&app.url("/reset-password?token=")), "{link}");

    browser.goto(&link).await;
    browser.assert_accessible().await;
    browser.fill("#password", "password123").await;
    browser.click("main form button[type=submit]").await;
    let rejection = browser.wait_for_text("#password-error").await;
    assert!(rejection.starts_with("The password is too easy to guess."), "{rejection}");
    browser.fill("#password", &format!("{new_password}\u{E007}")).await;
    browser.wait_for_path("/login?notice=password-reset").await;
    assert!(browser.text("[role=status]").await.starts_with("Your password has been reset"));
    browser.screenshot("demo-password-reset.png").await;

    // The old password is refused, the new one signs in; the link is used up.
    browser.fill("#username", &name).await;
    browser.fill("#password", &format!("{password}\u{E007}")).await;
    browser.wait_for_path("/login").await;
    assert_eq!(browser.text("[role=alert]").await, "Incorrect username or password.");
    browser.fill("#username", &name).await;
    browser.fill("#password", &format!("{new_password}\u{E007}")).await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#account-username").await, name);
    browser.goto(&link).await;
    browser.fill("#password", &format!("{password}\u{E007}")).await;
    let used = browser.wait_for_text("[role=alert]").await;
    assert!(used.starts_with("This link is not valid"), "{used}");
}

/// "Sign in with oidc" on the sign-in page, through the local OpenID Connect provider's login
/// and consent pages, to the account page, signed in as a new user named after the provider's
/// email, with the provider as the only sign-in method; removing it is refused.
#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_oidc_in_chromium() {
    let Some(browser) = Browser::start().await else { return };
    let Some((app, _provider)) = App::start_with_oidc().await else { return };
    let name = unique_name();

    browser.goto(&app.url("/login")).await;
    browser.assert_accessible().await;
    assert_eq!(browser.text("#sign-in-with-oidc").await, "Sign in with oidc");
    browser.click("#sign-in-with-oidc").await;

    // The provider's own pages: any login and password, then consent.
    browser.wait_for_text("input[name=login]").await;
    browser.fill("input[name=login]", &name).await;
    browser.fill("input[name=password]", "any password").await;
    browser.click("button[type=submit]").await;
    // The consent page (the login page's button may still be there, or go stale meanwhile).
    browser.wait_for_text_eq("button[type=submit]", "Continue").await;
    browser.click("button[type=submit]").await;

    // Back at the demo, signed in.
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#account-username").await, name.to_lowercase());
    assert_eq!(browser.text("#account-email").await, format!("{} verified", email_of(&name)));
    let methods = browser.text("#sign-in-methods").await;
    assert!(methods.contains("oidc") && methods.contains(&name), "{methods}");
    assert!(!methods.contains("Password"), "{methods}");
    assert_eq!(browser.script("return document.cookie").await, json!(""), "no readable cookie");
    browser.assert_accessible().await;
    browser.screenshot("demo-account-oidc.png").await;

    // Its only sign-in method cannot be removed.
    browser.click("#sign-in-methods button").await;
    let refusal = browser.wait_for_text("[role=alert]").await;
    assert_eq!(refusal, "This is your only way to sign in. Link another one before removing it.");
    assert!(browser.text("#sign-in-methods").await.contains(&name), "still linked");
    browser.assert_accessible().await;
}

/// Signs `name` up in Chromium at `url` (the sign-up page) with the emailed code, landing on
/// the account page.
async fn sign_up_in(browser: &Browser, app: &App, url: &str, name: &str, password: &str) {
    browser.goto(url).await;
    browser.fill("#username", name).await;
    browser.fill("#email", &email_of(name)).await;
    browser.fill("#password", &format!("{password}\u{E007}")).await;
    browser.wait_for_path("/verify-email").await;
    browser.fill("#code", &format!("{}\u{E007}", app.nth_code(&email_of(name), 1).await)).await;
    browser.wait_for_path("/account?notice=email-verified").await;
}

/// Sets up an authenticator app from the account page (the secret typed from the page, as a
/// person with an app that cannot scan would), sees the recovery codes once, signs out, and
/// signs in with the password and then the app's code.
#[tokio::test(flavor = "multi_thread")]
async fn two_step_sign_in_with_an_authenticator_app_in_chromium() {
    let Some(browser) = Browser::start().await else { return };
    let app = App::start().await;
    let name = unique_name();
    let password = "a long enough password";
    sign_up_in(&browser, &app, &app.url("/signup"), &name, password).await;
    assert!(browser.text("#totp-status").await.starts_with("Off."));

    browser.click("#totp-enrol").await;
    browser.wait_for_path("/account/totp").await;
    assert_eq!(browser.text("h1").await, "Set up an authenticator app");
    let secret = browser.text("#totp-secret").await;
    assert_eq!(secret.split_whitespace().collect::<String>().len(), 32, "{secret}");
    let qr =
        browser.script("const svg = document.querySelector('.qr svg'); return svg.getBoundingClientRect().width").await;
    assert!(qr.as_f64().is_some_and(|width| width >= 150.0), "the QR code is drawn: {qr}");
    browser.assert_accessible().await;
    browser.screenshot("demo-totp-enrol.png").await;
    browser.fill("#code", &format!("{}\u{E007}", common::totp_code(&secret, common::now_seconds()))).await;
    browser.wait_for_path("/account/totp/confirm").await;
    let codes =
        browser.script("return [...document.querySelectorAll('#recovery-codes code')].map(c => c.textContent)").await;
    assert_eq!(codes.as_array().map(Vec::len), Some(10), "{codes}");
    browser.assert_accessible().await;
    browser.screenshot("demo-recovery-codes.png").await;
    browser.click("main a.button").await;
    browser.wait_for_path("/account").await;
    assert!(browser.text("#totp-status").await.contains("10 recovery codes left."));
    browser.assert_accessible().await;
    browser.script("document.getElementById('two-step').scrollIntoView()").await;
    browser.screenshot("demo-account-two-step.png").await;

    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login?notice=signed-out").await;
    browser.fill("#username", &name).await;
    browser.fill("#password", &format!("{password}\u{E007}")).await;
    browser.wait_for_path("/login/second-factor").await;
    browser.assert_accessible().await;
    browser.screenshot("demo-second-step.png").await;
    // The next step's code: the confirmation used this step's, and a code works once.
    browser.fill("#code", &format!("{}\u{E007}", common::totp_code(&secret, common::now_seconds() + 30))).await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#account-username").await, name);
}

/// With a virtual authenticator (WebDriver's WebAuthn extension) in Chromium at `localhost`:
/// "Add a passkey" on the account page (refused with a clear message once the sign-in is older
/// than ten minutes), sign out, "Sign in with a passkey"; a password reset then names the
/// passkey to review; at `127.0.0.1` the sign-in page links to the passkey origin.
#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_a_passkey_in_chromium() {
    let Some(browser) = Browser::start().await else { return };
    let app = App::start().await;
    let name = unique_name();
    let authenticator = browser.add_virtual_authenticator().await;
    sign_up_in(&browser, &app, &app.localhost_url("/signup"), &name, "a long enough password").await;
    assert_eq!(browser.text("#passkey-list").await, "You have no passkeys yet.");
    browser.fill("#passkey-name", "Chromium").await;
    browser.click("#passkey-add").await;
    browser.wait_for_path("/account?notice=passkey-added").await;
    let list = browser.text("#passkey-list").await;
    assert!(list.contains("Chromium") && list.contains("never"), "{list}");
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1, "the authenticator holds it");
    browser.assert_accessible().await;
    browser.script("document.getElementById('passkeys').scrollIntoView()").await;
    browser.screenshot("demo-passkeys.png").await;

    // Eleven minutes after signing in (the session's start moved back), adding another asks
    // for a fresh sign-in.
    let db = app.database().await;
    let sql = r#"UPDATE "session" SET created_at = created_at - 660000"#;
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    browser.click("#passkey-add").await;
    let refusal = browser.wait_for_text("#passkey-error:not([hidden])").await;
    assert!(refusal.starts_with("For your safety, adding a passkey needs a recent sign-in."), "{refusal}");
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1, "no second one made");
    browser.assert_accessible().await;

    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login?notice=signed-out").await;
    browser.assert_accessible().await;
    browser.screenshot("demo-login-passkey.png").await;
    browser.click("#passkey-sign-in").await;
    browser.wait_for_path("/account").await;
    assert_eq!(browser.text("#account-username").await, name);
    let list = browser.text("#passkey-list").await;
    assert!(!list.contains("never"), "its last use is shown: {list}");

    // After a password reset, the page names the passkeys to review.
    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login?notice=signed-out").await;
    browser.click("a[href='/forgot-password']").await;
    browser.wait_for_path("/forgot-password").await;
    browser.fill("#email", &format!("{}\u{E007}", email_of(&name))).await;
    browser.wait_for_text("[role=status]").await;
    let link = common::reset_link(&app.nth_mail_to(&email_of(&name), 2).await);
    browser.goto(&link.replacen("127.0.0.1", "localhost", 1)).await;
    browser.fill("#password", "an even longer new passphrase\u{E007}").await;
    let reviewed = browser.wait_for_text("#reset-passkeys").await;
    assert!(reviewed.starts_with("Chromium"), "{reviewed}");
    browser.assert_accessible().await;
    browser.screenshot("demo-password-reset-passkeys.png").await;
    // Its link leads to the account's passkeys, through the sign-in page.
    browser.click("main a.button").await;
    browser.wait_for_path("/login#passkeys").await;

    // At another origin (127.0.0.1) the page says where passkeys work instead.
    browser.goto(&app.url("/login")).await;
    let shown = browser
        .script("return ['#passkey-sign-in', '.passkey-elsewhere'].map(s => document.querySelector(s).hidden)")
        .await;
    assert_eq!(shown, json!([true, false]), "no passkey button, a link to the passkey origin");
    let link = browser.script("return document.querySelector('.passkey-elsewhere a').href").await;
    assert_eq!(link, json!(app.localhost_url("/login")));
}
