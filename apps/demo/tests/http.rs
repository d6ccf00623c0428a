//! Every page and API flow of the demo over real HTTP.

mod common;

use std::time::Duration;

use common::{App, BROWSER_ACCEPT, FreshDatabase, cookie_token, email_of, link_token, server_url, unique_name};
use lucia::SessionExpiresIn;
use lucia_adapter_test::oidc_provider::sign_in_at_provider;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn location(response: &Response) -> &str {
    response.headers().get(LOCATION).map_or("", |v| v.to_str().unwrap())
}

fn set_cookies(response: &Response) -> Vec<String> {
    response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

async fn post_form(client: &Client, url: &str, form: &[(&str, &str)]) -> Response {
    client.post(url).form(form).send().await.unwrap()
}

/// Signs `username` up (address `email_of(username)`) and enters the code from the mail, as a
/// person would; returns the sign-up's response (with its session cookie).
async fn sign_up(app: &App, client: &Client, username: &str) -> Response {
    let email = email_of(username);
    // The address may have had an account before (deleted since): its code is the newest mail.
    let earlier = app.mails_to(&email).len();
    let form = [("username", username), ("email", email.as_str()), ("password", PASSWORD)];
    let response = post_form(client, &app.url("/signup"), &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-up of {username}");
    assert_eq!(location(&response), "/verify-email");
    let code = app.nth_code(&email, earlier + 1).await;
    let verified = post_form(client, &app.url("/verify-email"), &[("code", &code)]).await;
    assert_eq!((verified.status(), location(&verified)), (StatusCode::SEE_OTHER, "/account?notice=email-verified"));
    response
}

async fn sign_in(app: &App, client: &Client, username: &str, password: &str) -> Response {
    post_form(client, &app.url("/login"), &[("username", username), ("password", password)]).await
}

async fn page(client: &Client, url: &str) -> (StatusCode, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status();
    let location = location(&response).to_owned();
    let body = response.text().await.unwrap();
    (status, if status == StatusCode::SEE_OTHER { location } else { body })
}

/// The session handles in the "sign out this one" forms on the account page.
fn other_session_handles(account_page: &str) -> Vec<String> {
    let handles: Vec<String> = account_page
        .split(r#"name="session" value=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    for handle in &handles {
        assert!(handle.parse::<lucia::SessionHandle>().is_ok(), "{handle} is a handle");
    }
    handles
}

/// Whether a `Set-Cookie` deletes the session cookie.
fn is_removal(set_cookie: &str) -> bool {
    set_cookie.starts_with("auth_session=;") && set_cookie.contains("Max-Age=0")
}

/// Texts of database errors that must never reach a client.
const DATABASE_WORDS: [&str; 8] =
    ["UNIQUE", "constraint", "Duplicate entry", "duplicate key", "user.username", "\"user\"", "SQL", "database"];

fn assert_no_database_text(body: &str) {
    for word in DATABASE_WORDS {
        assert!(!body.contains(word), "{word:?} in {body}");
    }
}

#[tokio::test]
async fn sign_up_sets_a_lucia_cookie_and_shows_the_account() {
    let app = App::start().await;
    let browser = app.browser();
    let (status, form) = page(&browser, &app.url("/signup")).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        r#"<label for="username">"#,
        r#"name="username""#,
        r#"<label for="email">"#,
        r#"name="email""#,
        r#"<label for="password">"#,
        r#"name="password""#,
    ] {
        assert!(form.contains(field), "sign-up form lacks {field}");
    }
    let name = unique_name();
    let response = sign_up(&app, &browser, &name).await;
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1);
    let cookie = &cookies[0];
    assert!(cookie.starts_with("auth_session="), "{cookie}");
    for attribute in ["; Path=/", "; HttpOnly", "; SameSite=Lax", "; Expires="] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "development cookies work over http");
    let (status, account) = page(&browser, &app.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("<h1>Your account</h1>"));
    assert!(account.contains(&format!(r#"<dd id="account-username">{name}</dd>"#)));
    assert!(account.contains("this device") && account.contains("127.0.0.1") && account.contains("Chrome on Linux"));
    // Signed in, the sign-up and sign-in pages send you to your account.
    assert_eq!(page(&browser, &app.url("/signup")).await, (StatusCode::SEE_OTHER, "/account".into()));
    assert_eq!(page(&browser, &app.url("/login")).await, (StatusCode::SEE_OTHER, "/account".into()));
}

#[tokio::test]
async fn the_database_follows_the_contract() {
    let app = App::start().await;
    let name = unique_name();
    sign_up(&app, &app.browser(), &name).await;
    let db = app.database().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                r#"SELECT "user".id, "user".username, "key".id, "key".hashed_password, "session".active_expires, "session".idle_expires
                   FROM "user" JOIN "key" ON "key".user_id = "user".id JOIN "session" ON "session".user_id = "user".id
                   WHERE "user".username = '{name}' AND "key".hashed_password IS NOT NULL"#
            ),
        ))
        .await
        .unwrap()
        .expect("one user with a key and a session");
    let user_id: String = row.try_get_by_index(0).unwrap();
    let key_id: String = row.try_get_by_index(2).unwrap();
    let hash: String = row.try_get_by_index(3).unwrap();
    let (active, idle): (i64, i64) = (row.try_get_by_index(4).unwrap(), row.try_get_by_index(5).unwrap());
    assert_eq!(user_id.len(), 15);
    assert_eq!(key_id, format!("username:{name}"));
    // Argon2id by default (issue 10); `--lucia-v2-compat` writes `s2:` (below).
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert_eq!(idle - active, 14 * 86_400_000, "millisecond expiries, 14 idle days");
}

#[tokio::test]
async fn sign_up_errors_are_clear_and_change_nothing() {
    let app = App::start().await;
    let browser = app.browser();
    let name = unique_name();
    sign_up(&app, &browser, &name).await;
    let other = app.browser();
    let taken_email = email_of(&name);
    let cases: [(&str, &str, &str, StatusCode, &str); 11] = [
        (&name, "new@example.com", PASSWORD, StatusCode::CONFLICT, "That username is taken"),
        ("newuser", &taken_email, PASSWORD, StatusCode::CONFLICT, "That email address is already in use"),
        // Addresses compare lowercased.
        ("newuser", &taken_email.to_uppercase(), PASSWORD, StatusCode::CONFLICT, "already in use"),
        ("newuser", "not an address", PASSWORD, StatusCode::BAD_REQUEST, "valid email address"),
        ("newuser", "", PASSWORD, StatusCode::BAD_REQUEST, "valid email address"),
        ("newuser", "new@example.com", "short", StatusCode::BAD_REQUEST, "at least 8 characters"),
        // The library's password policy: zxcvbn's estimate, the username a guessable word.
        ("newuser", "new@example.com", "password123", StatusCode::BAD_REQUEST, "too easy to guess"),
        ("newuser", "new@example.com", "newuser2024", StatusCode::BAD_REQUEST, "too easy to guess"),
        ("ab", "new@example.com", PASSWORD, StatusCode::BAD_REQUEST, "3 to 32 characters"),
        ("bad name", "new@example.com", PASSWORD, StatusCode::BAD_REQUEST, "only letters, digits"),
        ("", "", "", StatusCode::BAD_REQUEST, "3 to 32 characters"),
    ];
    for (username, email, password, status, message) in cases {
        let form = [("username", username), ("email", email), ("password", password)];
        let response = post_form(&other, &app.url("/signup"), &form).await;
        assert_eq!(response.status(), status, "{username:?} {email:?}");
        assert!(set_cookies(&response).is_empty());
        let body = response.text().await.unwrap();
        assert!(body.contains(r#"role="alert""#) && body.contains(message), "{username:?}: {body}");
        // A password rejection is shown under the password field, and tied to it; an address
        // failure under the address field.
        let about_the_password = message.contains("at least 8") || message.contains("too easy");
        assert_eq!(body.contains(r#"id="password-error""#), about_the_password, "{username:?}: {body}");
        if about_the_password {
            assert!(body.contains(r#"aria-describedby="password-hint password-error" aria-invalid="true""#), "{body}");
        }
        let about_the_address = message.contains("address") || message.contains("in use");
        assert_eq!(body.contains(r#"id="email-error""#), about_the_address, "{email:?}: {body}");
        assert!(body.contains(&format!(r#"name="email" value="{email}""#)), "the address typed is kept");
    }
    // A form without fields is the same clear error, not a crash.
    let response = other
        .post(app.url("/signup"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Markup in input is escaped when the form is shown again.
    let response =
        post_form(&other, &app.url("/signup"), &[("username", "<script>x</script>"), ("password", PASSWORD)]).await;
    let body = response.text().await.unwrap();
    // askama escapes with numeric character references.
    assert!(body.contains("&#60;script&#62;x") && !body.contains("<script>x"), "{body}");
    let db = app.database().await;
    let count = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), r#"SELECT COUNT(*) FROM "user""#))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count.try_get_by_index::<i64>(0).unwrap(), 1);
}

#[tokio::test]
async fn sign_in_and_sign_out() {
    let app = App::start().await;
    let name = unique_name();
    sign_up(&app, &app.browser(), &name).await;
    let browser = app.browser();
    for (username, password) in [(name.as_str(), "wrong password"), ("nobody-here", PASSWORD), (name.as_str(), "")] {
        let response = sign_in(&app, &browser, username, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.text().await.unwrap().contains("Incorrect username or password."));
    }
    let response = sign_in(&app, &browser, &name, PASSWORD).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/account"));
    assert_eq!(page(&browser, &app.url("/account")).await.0, StatusCode::OK);

    let response = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/login?notice=signed-out"));
    assert!(is_removal(&set_cookies(&response)[0]));
    assert_eq!(page(&browser, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    assert!(page(&browser, &app.url("/login?notice=signed-out")).await.1.contains("You have signed out."));
}

#[tokio::test]
async fn sign_out_one_session_or_every_other_session() {
    let app = App::start().await;
    let name = unique_name();
    let (laptop, phone, tablet) = (app.browser(), app.browser(), app.browser());
    sign_up(&app, &laptop, &name).await;
    for device in [&phone, &tablet] {
        assert_eq!(sign_in(&app, device, &name, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    }
    let (_, account) = page(&laptop, &app.url("/account")).await;
    let others = other_session_handles(&account);
    assert_eq!(others.len(), 2, "three sessions: this one and two others");
    assert!(account.contains("Sign out everywhere else (2 other sessions)"));

    // "Sign out this one" on one of the others, by its handle.
    let response = post_form(&laptop, &app.url("/account/sessions/revoke"), &[("session", &others[0])]).await;
    assert_eq!(location(&response), "/account?notice=revoked");
    let statuses = [page(&phone, &app.url("/account")).await.0, page(&tablet, &app.url("/account")).await.0];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(),
        1,
        "exactly one device was signed out"
    );

    // Something that is not a handle, or the handle of an ended session, changes nothing.
    for value in ["not-a-session", others[0].as_str()] {
        let response = post_form(&laptop, &app.url("/account/sessions/revoke"), &[("session", value)]).await;
        assert_eq!(location(&response), "/account?notice=gone");
    }
    // Nor does the handle of another user's session: it stays signed in.
    let (stranger, strangers_phone, stranger_name) = (app.browser(), app.browser(), unique_name());
    sign_up(&app, &stranger, &stranger_name).await;
    sign_in(&app, &strangers_phone, &stranger_name, PASSWORD).await;
    let strangers_handles = other_session_handles(&page(&stranger, &app.url("/account")).await.1);
    assert_eq!(strangers_handles.len(), 1);
    let response =
        post_form(&laptop, &app.url("/account/sessions/revoke"), &[("session", &strangers_handles[0])]).await;
    assert_eq!(location(&response), "/account?notice=gone");
    assert_eq!(page(&strangers_phone, &app.url("/account")).await.0, StatusCode::OK, "not revoked");

    // "Sign out everywhere else": every other session ends, and this browser gets a fresh one.
    sign_in(&app, &phone, &name, PASSWORD).await;
    let response = laptop.post(app.url("/account/sessions/revoke-others")).send().await.unwrap();
    assert_eq!(location(&response), "/account?notice=others-revoked");
    let fresh = set_cookies(&response);
    assert_eq!(fresh.len(), 1, "a new cookie for this browser");
    assert!(!is_removal(&fresh[0]));
    assert_eq!(page(&phone, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    assert_eq!(page(&tablet, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    let (status, account) = page(&laptop, &app.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(other_session_handles(&account).is_empty() && account.contains("signed in on this device only"));

    // This device's own row offers a plain sign-out.
    assert!(account.contains(r#"<span class="tag">this device</span>"#) && account.contains(r#"action="/logout""#));
}

#[tokio::test]
async fn changing_the_password_signs_out_other_sessions() {
    let app = App::start().await;
    let name = unique_name();
    let (laptop, phone) = (app.browser(), app.browser());
    sign_up(&app, &laptop, &name).await;
    sign_in(&app, &phone, &name, PASSWORD).await;

    let change = |current: &'static str, new: &'static str| {
        let (laptop, url) = (laptop.clone(), app.url("/account/password"));
        async move { post_form(&laptop, &url, &[("current_password", current), ("new_password", new)]).await }
    };
    let response = change("not my password", "brand new password").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("Your current password is not correct."));
    let response = change(PASSWORD, "short").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("at least 8 characters"));
    let response = change(PASSWORD, "qwertyuiop").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains(r#"id="new-password-error""#) && body.contains("too easy to guess"), "{body}");

    let response = change(PASSWORD, "brand new password").await;
    assert_eq!(location(&response), "/account?notice=password-changed");
    assert_eq!(set_cookies(&response).len(), 1, "a fresh session for this device");
    let (status, account) = page(&laptop, &app.url("/account?notice=password-changed")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("Your password has been changed"));
    assert_eq!(page(&phone, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    assert_eq!(sign_in(&app, &phone, &name, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in(&app, &phone, &name, "brand new password").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn deleting_the_account_removes_everything() {
    let app = App::start().await;
    let name = unique_name();
    let (browser, other) = (app.browser(), app.browser());
    sign_up(&app, &browser, &name).await;
    sign_in(&app, &other, &name, PASSWORD).await;
    let (_, account) = page(&browser, &app.url("/account")).await;
    assert!(account.contains(r#"id="delete_password" name="password""#), "{account}");
    // A recent sign-in is no password: a user with one confirms with it.
    for form in [&[("password", "wrong password")][..], &[]] {
        let response = post_form(&browser, &app.url("/account/delete"), form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        assert!(response.text().await.unwrap().contains("was not deleted"));
    }

    // With the password, a sign-in of long ago is enough.
    age_sessions(&app, 11).await;
    let response = post_form(&browser, &app.url("/account/delete"), &[("password", PASSWORD)]).await;
    assert_eq!(location(&response), "/?notice=deleted");
    assert!(is_removal(&set_cookies(&response)[0]));
    assert!(page(&browser, &app.url("/?notice=deleted")).await.1.contains("Your account has been deleted."));
    assert_eq!(page(&other, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    assert_eq!(sign_in(&app, &browser, &name, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let db = app.database().await;
    for table in ["user", "key", "session"] {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!(r#"SELECT COUNT(*) FROM "{table}""#),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0, "{table} is empty");
    }
    // The name is free again.
    sign_up(&app, &app.browser(), &name).await;
}

/// Moves every session's start (its sign-in) `minutes` back, as if that long had passed.
async fn age_sessions(app: &App, minutes: i64) {
    let db = app.database().await;
    let sql = format!(r#"UPDATE "session" SET created_at = created_at - {}"#, minutes * 60_000);
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
}

/// How many rows of `table` there are.
async fn rows_in(app: &App, table: &str) -> i64 {
    let db = app.database().await;
    let sql = format!(r#"SELECT COUNT(*) FROM "{table}""#);
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// The account page's "Delete account" part.
fn delete_part(account: &str) -> &str {
    account.split(r#"id="delete-heading""#).nth(1).unwrap()
}

/// A user without a password (passkeys only: the password key removed) deletes the account
/// by a recent sign-in; 11 minutes after it, the page says to sign in again and a deletion
/// is refused (`403`, nothing deleted), as is removing a passkey (on the page and by the
/// JSON route); renaming one is not.
#[tokio::test]
async fn a_passkey_only_user_deletes_the_account_within_ten_minutes_of_signing_in() {
    let app = App::start().await;
    let name = unique_name();
    let (browser, other) = (app.browser(), app.browser());
    sign_up(&app, &browser, &name).await;
    sign_in(&app, &other, &name, PASSWORD).await;
    let user_id = user_id_of(&app, &browser).await;
    insert_passkey(&app, &user_id, "cGFzc2tleS1vbmU", "Laptop").await;
    insert_passkey(&app, &user_id, "cGFzc2tleS10d28", "Phone").await;
    let key = format!("username:{name}");
    let response = post_form(&browser, &app.url("/account/methods/unlink"), &[("key", &key)]).await;
    assert_eq!(location(&response), "/account?notice=unlinked");

    let (_, account) = page(&browser, &app.url("/account")).await;
    let delete = delete_part(&account);
    assert!(!delete.contains(r#"name="password""#), "no password field: {delete}");
    assert!(delete.contains("You signed in less than a minute ago"), "{delete}");
    assert!(delete.contains("Delete my account"), "{delete}");

    // Eleven minutes later: refused, and the page says to sign in again.
    age_sessions(&app, 11).await;
    let (_, account) = page(&browser, &app.url("/account")).await;
    let delete = delete_part(&account);
    assert!(
        delete.contains("you signed in 11 minutes ago") && delete.contains("Sign out and sign in again"),
        "{delete}"
    );
    assert!(!delete.contains("Delete my account"), "{delete}");
    let response = post_form(&browser, &app.url("/account/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("To delete your account, sign in again first"));
    let response = post_form(&browser, &app.url("/account/delete"), &[("password", PASSWORD)]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "a password does not stand in for the sign-in");
    assert_eq!(rows_in(&app, "user").await, 1);
    // Nor may a passkey be removed, on the page or by the JSON route; renamed, yes.
    let response = post_form(&browser, &app.url("/account/passkeys/remove"), &[("id", "cGFzc2tleS1vbmU")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("To remove a passkey, sign in again first"));
    let response = browser.delete(app.url("/passkeys/cGFzc2tleS1vbmU")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "error": "reauthentication_required" }));
    let form = [("id", "cGFzc2tleS1vbmU"), ("name", "Work laptop")];
    let response = post_form(&browser, &app.url("/account/passkeys/rename"), &form).await;
    assert_eq!(location(&response), "/account?notice=passkey-renamed");
    assert_eq!(rows_in(&app, "passkey").await, 2);

    // Signed in again (here: the session's start moved back to now), the passkey goes, then
    // the account: the user, its keys, passkeys and every session.
    age_sessions(&app, -11).await;
    let response = post_form(&browser, &app.url("/account/passkeys/remove"), &[("id", "cGFzc2tleS1vbmU")]).await;
    assert_eq!(location(&response), "/account?notice=passkey-removed");
    let response = post_form(&browser, &app.url("/account/delete"), &[]).await;
    assert_eq!(location(&response), "/?notice=deleted");
    assert!(is_removal(&set_cookies(&response)[0]));
    assert_eq!(page(&other, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    for table in ["user", "key", "session", "passkey"] {
        assert_eq!(rows_in(&app, table).await, 0, "{table} is empty");
    }
}

/// A user who signed up with a provider has no password: deleting the account needs a recent
/// sign-in, as for a passkey-only user.
#[tokio::test]
async fn a_provider_only_user_deletes_the_account_within_ten_minutes_of_signing_in() {
    let Some((app, _provider)) = App::start_with_oidc().await else { return };
    let browser = app.browser();
    let login = format!("{}-at-provider", unique_name());
    let start = browser.get(app.url("/login/oidc")).send().await.unwrap();
    let callback_url = app.url("/login/oidc/callback");
    let callback = sign_in_at_provider(&url::Url::parse(location(&start)).unwrap(), &login, &callback_url).await;
    let response = browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, account) = page(&browser, &app.url("/account")).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert!(!delete_part(&account).contains(r#"name="password""#), "{account}");

    age_sessions(&app, 11).await;
    let response = post_form(&browser, &app.url("/account/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(rows_in(&app, "user").await, 1);

    age_sessions(&app, -11).await;
    let response = post_form(&browser, &app.url("/account/delete"), &[]).await;
    assert_eq!(location(&response), "/?notice=deleted");
    for table in ["user", "key", "session"] {
        assert_eq!(rows_in(&app, table).await, 0, "{table} is empty");
    }
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let app = App::start().await;
    let name = unique_name();
    let browser = app.browser();
    sign_up(&app, &browser, &name).await;
    // A form on another site posting here (the browser sends that site's Origin).
    for path in ["/logout", "/account/sessions/revoke-others", "/account/delete", "/login", "/signup"] {
        let response = browser
            .post(app.url(path))
            .header(ORIGIN, "https://evil.example")
            .form(&[("username", "x"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for origin in ["null", "http://127.0.0.1", "garbage"] {
        let response = browser.post(app.url("/logout")).header(ORIGIN, origin).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    assert_eq!(page(&browser, &app.url("/account")).await.0, StatusCode::OK, "still signed in");

    // A cookie on a POST without any Origin is not trusted either.
    let session_cookie = {
        let response = sign_in(&app, &app.browser(), &name, PASSWORD).await;
        set_cookies(&response)[0].split(';').next().unwrap().to_owned()
    };
    let response = app.api().post(app.url("/logout")).header(COOKIE, &session_cookie).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("another site"));
}

#[tokio::test]
async fn idle_sessions_are_renewed_with_a_new_cookie() {
    let periods =
        SessionExpiresIn { active_period: Duration::from_millis(600), idle_period: Duration::from_secs(3600) };
    let app = App::start_with(lucia_demo::Config { session_expires_in: periods, ..Default::default() }).await;
    let browser = app.browser();
    let first = set_cookies(&sign_up(&app, &browser, &unique_name()).await)[0].clone();
    let active = browser.get(app.url("/account")).send().await.unwrap();
    assert!(set_cookies(&active).is_empty(), "an active session needs no new cookie");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let renewed = browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    let cookie = set_cookies(&renewed);
    assert_eq!(cookie.len(), 1, "the renewal re-sends the cookie");
    assert_eq!(cookie[0].split(';').next(), first.split(';').next(), "same session id");
    assert_ne!(cookie[0], first, "with a later expiry");
}

#[tokio::test]
async fn bad_cookies_and_unknown_pages() {
    let app = App::start().await;
    let client = app.api();
    let long = "x".repeat(10_000);
    for value in ["garbage", "%zz", long.as_str(), "\"quoted\""] {
        let response = client
            .get(app.url("/account"))
            .header(ACCEPT, BROWSER_ACCEPT)
            .header(COOKIE, format!("auth_session={value}"))
            .send()
            .await
            .unwrap();
        assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/login"), "{value:.20}");
        assert!(is_removal(&set_cookies(&response)[0]), "the bad cookie is deleted");
    }
    // An API client (no Accept: text/html) is told 401 instead of being redirected.
    let response = client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Page not found"));
    let response = client.post(app.url("/login")).header(CONTENT_TYPE, "text/plain").body("x").send().await.unwrap();
    assert!(response.status().is_client_error());
    let (status, css) = page(&client, &app.url("/style.css")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains(":focus-visible"));
}

#[tokio::test]
async fn json_api_with_bearer_tokens() {
    let app = App::start().await;
    let api = app.api();
    let name = unique_name();
    let credentials = json!({ "username": name, "email": email_of(&name), "password": PASSWORD });

    let response = api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["username"], name.as_str());
    assert_eq!((&created["email"], &created["email_verified"]), (&json!(email_of(&name)), &json!(false)));
    let user_id = created["user_id"].as_str().unwrap().to_owned();

    let response = api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error = response.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned();
    assert_eq!(error, "That username is taken. Please choose another.");
    for (body, status) in [
        (
            json!({ "username": "someone", "email": "someone@example.com", "password": "short" }),
            StatusCode::BAD_REQUEST,
        ),
        (json!({ "username": "someone", "password": PASSWORD }), StatusCode::BAD_REQUEST),
        (json!({ "username": 5 }), StatusCode::BAD_REQUEST),
        (json!([]), StatusCode::BAD_REQUEST),
    ] {
        let response = api.post(app.url("/api/signup")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    let response = api
        .post(app.url("/api/login"))
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let wrong = json!({ "username": name, "password": "wrong password" });
    let response = api.post(app.url("/api/login")).json(&wrong).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookies(&response).is_empty(), "the API does not set cookies");
    let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 40);

    let me = |authorization: Option<String>| {
        let request = api.get(app.url("/api/me"));
        let request = match authorization {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    let response = me(Some(format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let expected = json!({ "user_id": user_id, "username": name, "email": email_of(&name), "email_verified": false });
    assert_eq!(response.json::<Value>().await.unwrap(), expected);
    for authorization in
        [None, Some("Bearer nope".into()), Some(format!("Basic {token}")), Some(format!("Bearer {}", "x".repeat(5000)))]
    {
        let response = me(authorization.clone()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{authorization:.30?}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }

    let logout = || api.post(app.url("/api/logout")).header(AUTHORIZATION, format!("Bearer {token}")).send();
    assert_eq!(logout().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(me(Some(format!("Bearer {token}"))).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(logout().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// Point 1 of issue 7: no page holds a session token, not even its own (the browser's own token
/// travels in the `Cookie` header, never in a body).
#[tokio::test]
async fn the_account_page_holds_no_session_token() {
    let app = App::start().await;
    let name = unique_name();
    let (laptop, phone) = (app.browser(), app.browser());
    let mut tokens = vec![cookie_token(&set_cookies(&sign_up(&app, &laptop, &name).await)[0])];
    tokens.push(cookie_token(&set_cookies(&sign_in(&app, &phone, &name, PASSWORD).await)[0]));
    let credentials = json!({ "username": name, "password": PASSWORD });
    let response = app.api().post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    tokens.push(response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned());
    assert!(tokens.iter().all(|token| token.len() == 40), "three live tokens");

    // What the session table holds (hashes of the tokens) is not in the pages either.
    let db = app.database().await;
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), r#"SELECT id FROM "session""#))
        .await
        .unwrap();
    let stored: Vec<String> = rows.iter().map(|row| row.try_get_by_index(0).unwrap()).collect();
    assert_eq!(stored.len(), 3);
    let secrets: Vec<&str> = tokens.iter().chain(&stored).map(String::as_str).collect();

    for client in [&laptop, &phone] {
        for path in ["/account", "/account?notice=revoked", "/"] {
            let (status, body) = page(client, &app.url(path)).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            for secret in &secrets {
                assert!(!body.contains(&secret[..16]), "{path} holds (part of) a session credential");
            }
        }
        let (_, account) = page(client, &app.url("/account")).await;
        assert_eq!(other_session_handles(&account).len(), 2, "two other sessions, by handle");
    }

    // Revoking the phone's session by its handle ends exactly that one.
    let (_, account) = page(&laptop, &app.url("/account")).await;
    let mut revoked = None;
    for handle in other_session_handles(&account) {
        let response = post_form(&laptop, &app.url("/account/sessions/revoke"), &[("session", &handle)]).await;
        assert_eq!(location(&response), "/account?notice=revoked");
        if page(&phone, &app.url("/account")).await.0 == StatusCode::SEE_OTHER {
            revoked = Some(handle);
            break;
        }
        let me = app.api().get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {}", tokens[2]));
        assert_eq!(me.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "the other one was the API's");
    }
    assert!(revoked.is_some(), "the phone was signed out by its handle");
    assert_eq!(page(&laptop, &app.url("/account")).await.0, StatusCode::OK, "this device stays");
}

#[tokio::test]
async fn signing_in_again_ends_the_session_the_browser_had() {
    let app = App::start().await;
    let name = unique_name();
    let browser = app.browser();
    let first = cookie_token(&set_cookies(&sign_up(&app, &browser, &name).await)[0]);
    let response = sign_in(&app, &browser, &name, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let second = cookie_token(&set_cookies(&response)[0]);
    assert_ne!(first, second, "a new token, never the one the browser brought");
    let me = |token: &str| app.api().get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}")).send();
    assert_eq!(me(&first).await.unwrap().status(), StatusCode::UNAUTHORIZED, "the old session ended");
    assert_eq!(me(&second).await.unwrap().status(), StatusCode::OK);
    let (_, account) = page(&browser, &app.url("/account")).await;
    assert!(other_session_handles(&account).is_empty());
}

#[tokio::test]
async fn a_taken_username_is_a_409_without_database_text() {
    let app = App::start().await;
    let name = unique_name();
    // A user row holding the name but no key: only the unique `username` column can refuse the
    // sign-up, so the adapter reports DuplicateAttribute (the database says "UNIQUE constraint
    // failed: user.username").
    let db = app.database().await;
    db.execute_unprepared(&format!(r#"INSERT INTO "user" (id, username) VALUES ('legacyuser00001', '{name}')"#))
        .await
        .unwrap();
    let email = email_of(&name);
    let form = [("username", name.as_str()), ("email", email.as_str()), ("password", PASSWORD)];
    let response = post_form(&app.browser(), &app.url("/signup"), &form).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.unwrap();
    assert!(body.contains("That username is taken. Please choose another."), "{body}");
    assert_no_database_text(&body);

    let credentials = json!({ "username": name, "email": email, "password": PASSWORD });
    let response = app.api().post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.unwrap();
    assert_eq!(body, r#"{"error":"That username is taken. Please choose another."}"#);
}

#[tokio::test]
async fn production_sends_strict_transport_security() {
    // Production needs an origin for the links in mails, a mail server and a TOTP key it is
    // given: without any, the demo does not start (rather than mail broken links, leave codes in
    // files, or make a key file that a redeploy loses).
    let db = std::env::temp_dir().join(format!("lucia-demo-prod-{}.db", lucia::generate_random_string(8)));
    let bare = lucia_demo::Config {
        production: true,
        database_url: format!("sqlite://{}?mode=rwc", db.display()),
        mail_dir: std::env::temp_dir().join(format!("lucia-demo-prod-mail-{}", lucia::generate_random_string(8))),
        ..Default::default()
    };
    let origin: lucia::Origin = "https://auth.example".parse().unwrap();
    let smtp = Some("smtp://127.0.0.1:2525".to_owned());
    for config in [
        lucia_demo::Config { smtp_url: smtp.clone(), ..bare.clone() },
        lucia_demo::Config { public_origin: Some(origin.clone()), ..bare.clone() },
        lucia_demo::Config { public_origin: Some(origin.clone()), smtp_url: smtp.clone(), ..bare.clone() },
    ] {
        match lucia_demo::build(&config).await {
            Err(error @ lucia_demo::StartError::Production(_)) => assert!(error.to_string().starts_with("production")),
            Err(other) => panic!("unexpected {other}"),
            Ok(_) => panic!("production started without an origin, a mail server or a TOTP key"),
        }
    }
    let config =
        lucia_demo::Config { public_origin: Some(origin), smtp_url: smtp, production: true, ..Default::default() };
    let production = App::start_with(config).await;
    for path in ["/", "/login", "/no/such/page", "/api/me"] {
        let response = production.api().get(production.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains", "{path}");
    }
    let development = App::start().await;
    let response = development.api().get(development.url("/")).send().await.unwrap();
    assert!(response.headers().get("strict-transport-security").is_none(), "not over plain http in development");
}

#[tokio::test]
async fn session_tokens_are_hashed_at_rest_unless_lucia_v2_compat() {
    for lucia_v2_compat in [false, true] {
        let app = App::start_with(lucia_demo::Config { lucia_v2_compat, ..Default::default() }).await;
        let response = sign_up(&app, &app.browser(), &unique_name()).await;
        let token = cookie_token(&set_cookies(&response)[0]);
        let db = app.database().await;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                r#"SELECT "session".id, "key".hashed_password FROM "session" JOIN "key" ON "key".user_id = "session".user_id
                   WHERE "key".hashed_password IS NOT NULL"#,
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let stored: String = rows[0].try_get_by_index(0).unwrap();
        let hash: String = rows[0].try_get_by_index(1).unwrap();
        let expected = if lucia_v2_compat { token.clone() } else { lucia::SessionTokens::Hashed.stored_id(&token) };
        assert_eq!(stored, expected, "lucia_v2_compat: {lucia_v2_compat}");
        // A Lucia v2 application must read the hashes the compat mode writes; otherwise Argon2id.
        if lucia_v2_compat {
            assert!(hash.starts_with("s2:") && hash.len() == 148, "Lucia v2's password hashes: {hash}");
        } else {
            assert!(hash.starts_with("$argon2id$"), "Argon2id by default: {hash}");
        }
    }
}

/// The URL of a test server, or `None` (skip) when it is not configured and not required.
/// Runs the sign-up, API and page flows of the demo on a fresh PostgreSQL schema or MariaDB
/// database (`DATABASE_URL` pointing at a server), dropped afterwards.
async fn runs_on_server(variable: &str) {
    let Some(url) = server_url(variable) else { return };
    let fresh = FreshDatabase::create(&url).await;
    let database_url = fresh.url.clone();
    let outcome = tokio::spawn(async move {
        let app = App::start_at(lucia_demo::Config { database_url, ..Default::default() }).await;
        let (api, username) = (app.api(), unique_name());
        let credentials = json!({ "username": username, "email": email_of(&username), "password": PASSWORD });
        assert_eq!(
            api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap().status(),
            StatusCode::CREATED
        );
        let taken = api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        assert_no_database_text(&taken.text().await.unwrap());
        let response = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
        let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let me = api.get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}")).send().await.unwrap();
        assert_eq!(me.json::<Value>().await.unwrap()["username"], username.as_str());
        let code = app.nth_code(&email_of(&username), 1).await;
        let verified = api
            .post(app.url("/api/verify-email"))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap();
        assert_eq!(verified.status(), StatusCode::OK);
        let browser = app.browser();
        assert_eq!(sign_in(&app, &browser, &username, PASSWORD).await.status(), StatusCode::SEE_OTHER);
        let (status, account) = page(&browser, &app.url("/account")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(other_session_handles(&account).len(), 1, "the API session is listed too");
        assert!(!account.contains(&token), "by handle, not by token");
        // The second factor in SeaORM's tables: set up, then asked for at sign-in.
        let (secret, _) = enrol_totp(&app, &browser).await;
        let other = app.browser();
        password_step(&app, &other, &username).await;
        let code = common::totp_code(&secret, common::now_seconds() + 30);
        assert_eq!(location(&second_step(&app, &other, &code).await), "/account");
        // A passkey ceremony kept in SeaORM's challenge table.
        let started = other.post(app.url("/passkeys/register/start")).send().await.unwrap();
        assert_eq!(started.status(), StatusCode::OK);
        assert!(started.json::<Value>().await.unwrap()["options"]["publicKey"]["challenge"].is_string());
    })
    .await;
    fresh.drop_and_resume(outcome).await;
}

#[tokio::test]
async fn the_demo_runs_on_postgres() {
    runs_on_server("LUCIA_TEST_POSTGRES_URL").await;
}

#[tokio::test]
async fn the_demo_runs_on_mariadb() {
    runs_on_server("LUCIA_TEST_MYSQL_URL").await;
}

// ---- brute force: the per-account throttle and the per-IP limit ---------------------------

#[tokio::test]
async fn twenty_wrong_passwords_for_one_account_are_throttled_while_another_signs_in() {
    // Every request comes from 127.0.0.1: a per-IP budget above the thirty-odd sign-ins, so
    // that the per-account throttle (in this instance's memory) is what answers.
    let app = App::start_with(lucia_demo::Config { sign_in_burst: 100, ..Default::default() }).await;
    common::twenty_wrong_passwords_are_throttled_while_another_account_signs_in(&[&app]).await;
}

#[tokio::test]
async fn sign_ins_and_sign_ups_from_one_address_are_limited() {
    let app = App::start_with(lucia_demo::Config { sign_in_burst: 3, ..Default::default() }).await;
    let browser = app.browser();
    let name = unique_name();
    sign_up(&app, &browser, &name).await;
    assert_eq!(sign_in(&app, &app.browser(), &name, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(sign_in(&app, &app.browser(), &name, "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    // The budget of 3 is spent: one more every 3 seconds.
    for (path, title) in [("/login", "Sign in"), ("/signup", "Sign up")] {
        let form = [("username", "someone_else"), ("password", PASSWORD)];
        let response = post_form(&app.browser(), &app.url(path), &form).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3).contains(&wait), "{wait}");
        let body = response.text().await.unwrap();
        assert!(body.contains(&format!("<title>{title}")), "the form page: {body}");
        assert!(body.contains("Too many attempts, try again in"), "{body}");
    }
    // The API answers 429 too, with a JSON error.
    let credentials = json!({ "username": name, "password": PASSWORD });
    for path in ["/api/login", "/api/signup"] {
        let response = app.api().post(app.url(path)).json(&credentials).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(response.json::<Value>().await.unwrap(), json!({ "error": "too many attempts" }));
    }
    // Pages of a signed-in user are not limited.
    assert_eq!(page(&browser, &app.url("/account")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_throttled_current_password_on_the_account_page_says_when_to_retry() {
    let app = App::start().await;
    let (name, laptop) = (unique_name(), app.browser());
    sign_up(&app, &laptop, &name).await;
    let url = app.url("/account/password");
    for _ in 0..5 {
        let form = [("current_password", "not my password"), ("new_password", "brand new password")];
        assert_eq!(post_form(&laptop, &url, &form).await.status(), StatusCode::BAD_REQUEST);
    }
    for (path, field) in [("/account/password", "current_password"), ("/account/delete", "password")] {
        let form = [(field, PASSWORD), ("new_password", "brand new password")];
        let response = post_form(&laptop, &app.url(path), &form).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&wait), "{path}: {wait}");
    }
}

#[tokio::test]
async fn the_api_reports_a_throttled_account_with_retry_after() {
    let app = App::start_with(lucia_demo::Config { sign_in_burst: 100, ..Default::default() }).await;
    let name = unique_name();
    sign_up(&app, &app.browser(), &name).await;
    let wrong = json!({ "username": name, "password": "wrong password" });
    for _ in 0..5 {
        let response = app.api().post(app.url("/api/login")).json(&wrong).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let right = json!({ "username": name, "password": PASSWORD });
    let response = app.api().post(app.url("/api/login")).json(&right).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = response.json::<Value>().await.unwrap();
    assert_eq!(body, json!({ "error": "Too many attempts, try again in 1 second." }));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let config = lucia_demo::Config {
        sign_in_burst: 2,
        trusted_proxy_header: Some("x-forwarded-for".into()),
        ..Default::default()
    };
    let app = App::start_with(config).await;
    let name = unique_name();
    let email = email_of(&name);
    let form = [("username", name.as_str()), ("email", email.as_str()), ("password", PASSWORD)];
    let from = |client: &str| app.browser().post(app.url("/signup")).header("x-forwarded-for", client).form(&form);
    assert_eq!(from("203.0.113.1").send().await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(from("203.0.113.1").send().await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(from("10.0.0.9, 203.0.113.1").send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(from("203.0.113.2").send().await.unwrap().status(), StatusCode::CONFLICT, "another client");
}

/// The token in a reset link.
#[tokio::test]
async fn sign_up_asks_for_the_emailed_code_until_it_is_entered() {
    let app = App::start().await;
    let browser = app.browser();
    let name = unique_name();
    let email = email_of(&name);
    let form = [("username", name.as_str()), ("email", email.as_str()), ("password", PASSWORD)];
    let response = post_form(&browser, &app.url("/signup"), &form).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/verify-email"));
    let session_token = cookie_token(&set_cookies(&response)[0]);
    let (status, verify) = page(&browser, &app.url("/verify-email")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(verify.contains(&format!("<strong>{email}</strong>")), "{verify}");
    // No SMTP configured: the page says where the mail went.
    assert!(verify.contains(&app.mail_dir.display().to_string()), "{verify}");
    // The account waits for the code.
    assert_eq!(page(&browser, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/verify-email".into()));

    let first = app.nth_code(&email, 1).await;
    let wrong = if first == "00000000" { "11111111" } else { "00000000" };
    let response = post_form(&browser, &app.url("/verify-email"), &[("code", wrong)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains(r#"role="alert""#) && body.contains("That code is not right."), "{body}");
    // A new code replaces the first.
    let response = post_form(&browser, &app.url("/verify-email/resend"), &[]).await;
    assert_eq!(location(&response), "/verify-email?notice=code-sent");
    let second = app.nth_code(&email, 2).await;
    if first != second {
        let response = post_form(&browser, &app.url("/verify-email"), &[("code", &first)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "the first code no longer works");
    }
    // Typed with spaces, as people paste or group digits.
    let spaced = format!(" {} {} ", &second[..4], &second[4..]);
    let response = post_form(&browser, &app.url("/verify-email"), &[("code", &spaced)]).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/account?notice=email-verified"));
    let (status, account) = page(&browser, &app.url("/account?notice=email-verified")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains(&format!(r#"<dd id="account-email">{email} <span class="tag">verified</span></dd>"#)));
    assert!(account.contains("your email address is verified"));
    assert_eq!(page(&browser, &app.url("/verify-email")).await, (StatusCode::SEE_OTHER, "/account".into()));
    // The mail holds the code and nothing of the session.
    let mail = app.nth_mail_to(&email, 2).await;
    assert!(mail.contains(&second) && !mail.contains(&session_token), "{mail}");
}

#[tokio::test]
async fn forgot_password_mails_a_link_that_sets_a_new_password_once() {
    let app = App::start().await;
    let (laptop, stranger) = (app.browser(), app.browser());
    let name = unique_name();
    let email = email_of(&name);
    sign_up(&app, &laptop, &name).await;
    let (status, form) = page(&stranger, &app.url("/forgot-password")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"<label for="email">"#) && form.contains(r#"action="/forgot-password""#));
    assert!(page(&stranger, &app.url("/login")).await.1.contains(r#"href="/forgot-password""#));

    // The same answer for an address with an account and one without.
    let known = post_form(&stranger, &app.url("/forgot-password"), &[("email", &email.to_uppercase())]).await;
    let unknown = post_form(&stranger, &app.url("/forgot-password"), &[("email", "nobody@example.com")]).await;
    assert_eq!((known.status(), unknown.status()), (StatusCode::OK, StatusCode::OK));
    let (known, unknown) = (known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(known, unknown);
    assert!(known.contains("If an account uses that address, a link to choose a new password is on its way."));

    // The link points to the demo itself and opens the form; the token waits in the form.
    let link = common::reset_link(&app.nth_mail_to(&email, 2).await);
    assert!(link.starts_with(&app.url("/reset-password?token=")), "{link}");
    let token = link_token(&link);
    assert_eq!(token.len(), 40);
    let (status, reset_page) = page(&stranger, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(reset_page.contains(&format!(r#"<input type="hidden" name="token" value="{token}">"#)));
    assert!(app.mails_to("nobody@example.com").is_empty(), "no mail for an address without an account");

    // A password the policy refuses keeps the link usable.
    let response =
        post_form(&stranger, &app.url("/reset-password"), &[("token", &token), ("password", "password")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains(r#"id="password-error""#));
    let new_password = "a brand new passphrase";
    let response =
        post_form(&stranger, &app.url("/reset-password"), &[("token", &token), ("password", new_password)]).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/login?notice=password-reset"));
    // Every session ended; the old password no longer works, the new one does.
    assert_eq!(page(&laptop, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    assert_eq!(sign_in(&app, &app.browser(), &name, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in(&app, &app.browser(), &name, new_password).await.status(), StatusCode::SEE_OTHER);
    // The link worked once.
    let again = post_form(
        &stranger,
        &app.url("/reset-password"),
        &[("token", &token), ("password", "another passphrase here")],
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body = again.text().await.unwrap();
    assert!(body.contains("This link is not valid") && body.contains(r#"href="/forgot-password""#), "{body}");
}

#[tokio::test]
async fn the_json_api_verifies_addresses_and_resets_passwords() {
    let app = App::start().await;
    let api = app.api();
    let name = unique_name();
    let email = email_of(&name);
    let credentials = json!({ "username": name, "email": email, "password": PASSWORD });
    assert_eq!(api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap().status(), StatusCode::CREATED);
    let login = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    let token = login.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let post = |path: &str, body: Value| {
        let request = api.post(app.url(path)).header(AUTHORIZATION, bearer.clone()).json(&body);
        async move { request.send().await.unwrap() }
    };

    let code = app.nth_code(&email, 1).await;
    let wrong = if code == "00000000" { "11111111" } else { "00000000" };
    let response = post("/api/verify-email", json!({ "code": wrong })).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error = response.json::<Value>().await.unwrap();
    assert_eq!(error, json!({ "error": "That code is not right. Check the mail we sent, or ask for a new code." }));
    assert_eq!(post("/api/verify-email", json!({})).await.status(), StatusCode::BAD_REQUEST, "no code field");
    let response = post("/api/verify-email", json!({ "code": code })).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "email": email, "email_verified": true }));
    let me = api.get(app.url("/api/me")).header(AUTHORIZATION, bearer.clone()).send().await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["email_verified"], true);
    // Without a session, no verification.
    let anonymous = api.post(app.url("/api/verify-email")).json(&json!({ "code": code })).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Forgot password: 202 and the same body either way; a malformed address is a 400.
    let forgot = |address: &str| api.post(app.url("/api/forgot-password")).json(&json!({ "email": address })).send();
    let known = forgot(&email).await.unwrap();
    let unknown = forgot("nobody@example.com").await.unwrap();
    assert_eq!((known.status(), unknown.status()), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(forgot("not an address").await.unwrap().status(), StatusCode::BAD_REQUEST);

    let link_token = link_token(&common::reset_link(&app.nth_mail_to(&email, 2).await));
    let reset = |token: &str, password: &str| {
        api.post(app.url("/api/reset-password")).json(&json!({ "token": token, "password": password })).send()
    };
    for bad in ["", "x", &"a".repeat(5_000)] {
        let response = reset(bad, "a brand new passphrase").await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            response.json::<Value>().await.unwrap()["error"].as_str().unwrap().starts_with("This link is not valid")
        );
    }
    assert_eq!(reset(&link_token, "a brand new passphrase").await.unwrap().status(), StatusCode::NO_CONTENT);
    // The bearer session ended with the reset.
    let me = api.get(app.url("/api/me")).header(AUTHORIZATION, bearer.clone()).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let new = json!({ "username": name, "password": "a brand new passphrase" });
    assert_eq!(api.post(app.url("/api/login")).json(&new).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(reset(&link_token, "yet another passphrase").await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn codes_and_links_are_limited_per_account_and_address() {
    let app = App::start_with(lucia_demo::Config { sign_in_burst: 100, ..Default::default() }).await;
    let api = app.api();
    let name = unique_name();
    let email = email_of(&name);
    let credentials = json!({ "username": name, "email": email, "password": PASSWORD });
    api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    let login = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    let bearer = format!("Bearer {}", login.json::<Value>().await.unwrap()["token"].as_str().unwrap());
    // Sign-up sent the first code; two more, then a wait.
    let resend = || api.post(app.url("/api/verify-email/resend")).header(AUTHORIZATION, bearer.clone()).send();
    for _ in 0..2 {
        assert_eq!(resend().await.unwrap().status(), StatusCode::ACCEPTED);
    }
    let refused = resend().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "60");

    // Reset links: three per address, known or not, then a wait; other addresses go on.
    for address in [email.as_str(), "nobody@example.com"] {
        let forgot = || api.post(app.url("/api/forgot-password")).json(&json!({ "email": address })).send();
        for _ in 0..3 {
            assert_eq!(forgot().await.unwrap().status(), StatusCode::ACCEPTED, "{address}");
        }
        let refused = forgot().await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{address}");
        assert_eq!(refused.headers()["retry-after"], "60");
    }
    let other = api.post(app.url("/api/forgot-password")).json(&json!({ "email": "other@example.com" })).send();
    assert_eq!(other.await.unwrap().status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_reset_link_ignores_the_host_a_client_sends() {
    let app = App::start().await;
    let name = unique_name();
    let email = email_of(&name);
    sign_up(&app, &app.browser(), &name).await;
    let response = app
        .api()
        .post(app.url("/api/forgot-password"))
        .header("host", "evil.example")
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let link = common::reset_link(&app.nth_mail_to(&email, 2).await);
    assert!(link.starts_with(&app.url("/reset-password?token=")), "{link}");
}

#[tokio::test]
async fn forgotten_passwords_and_resets_count_against_the_address_budget() {
    let app = App::start_with(lucia_demo::Config { sign_in_burst: 3, ..Default::default() }).await;
    let api = app.api();
    // Different addresses each time: only the client address's budget of 3 can refuse.
    for i in 0..2 {
        let body = json!({ "email": format!("someone{i}@example.com") });
        let response = api.post(app.url("/api/forgot-password")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let reset = json!({ "token": "x".repeat(40), "password": "a brand new passphrase" });
    assert_eq!(
        api.post(app.url("/api/reset-password")).json(&reset).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    for (path, body) in
        [("/api/forgot-password", json!({ "email": "someone9@example.com" })), ("/api/reset-password", reset)]
    {
        let response = api.post(app.url(path)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(response.headers().contains_key("retry-after"), "{path}");
    }
    // The pages too.
    for (path, form) in
        [("/forgot-password", [("email", "someone8@example.com")]), ("/reset-password", [("token", "x")])]
    {
        let response = post_form(&app.browser(), &app.url(path), &form).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(response.text().await.unwrap().contains("Too many attempts, try again in"), "{path}");
    }
}

/// A password user links the local OpenID Connect provider from the account page, sees both
/// sign-in methods, removes the provider, and cannot remove the password, now its last method;
/// nor a method that is not theirs. A link callback without the flow cookie links nothing.
#[tokio::test]
async fn link_and_unlink_sign_in_methods() {
    let Some((app, provider)) = App::start_with_oidc().await else { return };
    let browser = app.browser();
    let name = unique_name();
    sign_up(&app, &browser, &name).await;

    let (status, login_page) = page(&app.browser(), &app.url("/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(login_page.contains(r#"href="/login/oidc""#), "a Sign in with oidc link");

    // "Link oidc": a form POST, redirected to the provider, whose origin the pages' CSP
    // allows as a form target.
    let (_, account) = page(&browser, &app.url("/account")).await;
    assert!(account.contains(r#"action="/login/oidc/link""#), "{account}");
    let start = browser.post(app.url("/login/oidc/link")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let csp = start.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains(&format!("form-action 'self' {}", provider.issuer)), "{csp}");
    let authorization = url::Url::parse(location(&start)).unwrap();
    assert!(authorization.as_str().starts_with(&provider.issuer));
    let login = format!("{name}-at-provider");
    let callback_url = app.url("/login/oidc/callback");
    let callback = sign_in_at_provider(&authorization, &login, &callback_url).await;
    // Without the flow cookie (another browser): nothing is linked, the sign-in page explains.
    let (status, elsewhere) = page(&app.browser(), callback.as_str()).await;
    assert_eq!((status, elsewhere.as_str()), (StatusCode::SEE_OTHER, "/login?oauth_error=flow"));
    let linked = browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!((linked.status(), location(&linked)), (StatusCode::SEE_OTHER, "/account?notice=linked"));
    let (_, account) = page(&browser, &app.url("/account?notice=linked")).await;
    assert!(account.contains("The provider account is linked"), "{account}");
    let methods = account.split(r#"id="sign-in-methods""#).nth(1).unwrap().split("</ul>").next().unwrap();
    assert!(methods.contains("Password") && methods.contains(&login), "{methods}");

    // Someone else's key, or one that does not exist: not removed.
    let (status, _) = unlink(&browser, &app, "username:somebody-else").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The provider goes; then the password is the last method and stays.
    let (status, to) = unlink(&browser, &app, &format!("oidc:{login}")).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/account?notice=unlinked"));
    let (status, refused) = unlink(&browser, &app, &format!("username:{name}")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(refused.contains("This is your only way to sign in."), "{refused}");
    let response = sign_in(&app, &app.browser(), &name, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the password still signs in");
}

async fn unlink(browser: &Client, app: &App, key: &str) -> (StatusCode, String) {
    let response = post_form(browser, &app.url("/account/methods/unlink"), &[("key", key)]).await;
    let status = response.status();
    let to = if status == StatusCode::SEE_OTHER { location(&response).to_owned() } else { String::new() };
    (status, if to.is_empty() { response.text().await.unwrap() } else { to })
}

/// A first sign-in with a provider whose username and email another account already holds:
/// the new user gets the name with a suffix, and no email (the address is the other
/// account's); nothing is linked to that other account.
#[tokio::test]
async fn a_provider_user_whose_name_and_email_are_taken_gets_another_name() {
    let Some((app, _provider)) = App::start_with_oidc().await else { return };
    let name = unique_name();
    sign_up(&app, &app.browser(), &name).await;

    let browser = app.browser();
    let start = browser.get(app.url("/login/oidc")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorization = url::Url::parse(location(&start)).unwrap();
    let callback = sign_in_at_provider(&authorization, &name, &app.url("/login/oidc/callback")).await;
    let signed_in = browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!((signed_in.status(), location(&signed_in)), (StatusCode::SEE_OTHER, "/account"));
    let (status, account) = page(&browser, &app.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    let username = account.split(r#"id="account-username">"#).nth(1).unwrap().split('<').next().unwrap();
    assert!(username.starts_with(&format!("{}-", name.to_lowercase())), "{username}");
    assert!(!account.contains(r#"id="account-email""#), "no email: it is the other account's");
    // The password account is untouched: it signs in, with its own name.
    let response = sign_in(&app, &app.browser(), &name, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// `ALLOWED_HOSTS`: the demo answers its own host (any port) and refuses another `Host`, as a
/// DNS-rebinding page would send, with `400`.
#[tokio::test]
async fn requests_for_other_hosts_are_refused() {
    let config = lucia_demo::Config { allowed_hosts: vec!["127.0.0.1".parse().unwrap()], ..Default::default() };
    let app = App::start_with(config).await;
    assert_eq!(app.browser().get(app.url("/login")).send().await.unwrap().status(), StatusCode::OK);
    let rebound = app.browser().get(app.url("/login")).header("host", "attacker.example").send().await.unwrap();
    assert_eq!(rebound.status(), StatusCode::BAD_REQUEST);
    assert_eq!(rebound.text().await.unwrap(), "unknown host");
}

/// A stalled database (every byte held by a proxy between the demo and PostgreSQL): `GET
/// /api/me` answers `503` with `Retry-After` within lucia's store deadline (5 s) plus a
/// margin, not a hang and not a `401`; once the database answers again, the same token works,
/// with nothing restarted.
#[tokio::test]
async fn a_stalled_database_is_a_503_and_the_demo_recovers() {
    use lucia_adapter_test::fault_proxy::{FaultProxy, proxied_url, url_address};
    let Some(url) = server_url("LUCIA_TEST_POSTGRES_URL") else { return };
    let fresh = FreshDatabase::create(&url).await;
    let proxy = FaultProxy::start(&url_address(&url)).await;
    let database_url = proxied_url(&fresh.url, proxy.addr());
    let outcome = tokio::spawn(async move {
        let app = App::start_at(lucia_demo::Config { database_url, ..Default::default() }).await;
        let (api, username) = (app.api(), unique_name());
        let credentials = json!({ "username": username, "email": email_of(&username), "password": PASSWORD });
        assert_eq!(
            api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap().status(),
            StatusCode::CREATED
        );
        let response = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
        let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let me = || api.get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}")).send();

        proxy.stall();
        let started = std::time::Instant::now();
        let stalled = me().await.unwrap();
        let waited = started.elapsed();
        assert_eq!(stalled.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(stalled.headers().contains_key("retry-after"));
        assert!(waited < Duration::from_secs(9), "answered after {waited:?}");

        proxy.pass();
        let back = me().await.unwrap();
        assert_eq!(back.status(), StatusCode::OK, "the same token works once the database answers");
        assert_eq!(back.json::<Value>().await.unwrap()["username"], username.as_str());
    })
    .await;
    fresh.drop_and_resume(outcome).await;
}

/// The text between `start` and the next `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let rest = &html[html.find(start).unwrap_or_else(|| panic!("no {start} in {html}")) + start.len()..];
    &rest[..rest.find(end).unwrap()]
}

/// The recovery codes on a page that shows them.
fn recovery_codes(html: &str) -> Vec<String> {
    let list = between(html, r#"<ol class="codes" id="recovery-codes">"#, "</ol>");
    let codes: Vec<String> =
        list.split("<li><code>").skip(1).map(|item| item.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10, "{list}");
    codes
}

/// A code of the secret's that is not valid now (nor a step either side).
fn wrong_totp_code(secret: &str) -> String {
    let now = common::now_seconds();
    let valid: Vec<String> = [now - 30, now, now + 30].iter().map(|t| common::totp_code(secret, *t)).collect();
    (0..).map(|n| format!("{:06}", 123_456 + n)).find(|code| !valid.contains(code)).unwrap()
}

/// Sets up an authenticator app for the signed-in `browser`: returns its secret (base32) and
/// the recovery codes.
async fn enrol_totp(app: &App, browser: &Client) -> (String, Vec<String>) {
    let response = post_form(browser, &app.url("/account/totp"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store", "the secret is not cached");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<svg role="img" aria-label="QR code for your authenticator app""#), "{html}");
    let secret: String = between(&html, r#"<code class="secret" id="totp-secret">"#, "<").split_whitespace().collect();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    // A wrong first code: the form again, the secret not shown twice.
    let response = post_form(browser, &app.url("/account/totp/confirm"), &[("code", &wrong_totp_code(&secret))]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"role="alert""#) && html.contains("That code is not right."), "{html}");
    assert!(!html.contains(&secret[..8]) && !html.contains("<svg"), "{html}");
    let code = common::totp_code(&secret, common::now_seconds());
    let response = post_form(browser, &app.url("/account/totp/confirm"), &[("code", &code)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let codes = recovery_codes(&response.text().await.unwrap());
    (secret, codes)
}

/// The password step of a user with an authenticator app: no session, the pending cookie, the
/// code form next; returns the pending cookie's value.
async fn password_step(app: &App, browser: &Client, name: &str) -> String {
    let response = sign_in(app, browser, name, PASSWORD).await;
    assert_eq!(set_cookies(&response).len(), 1, "{:?}", set_cookies(&response));
    pending_step(&response)
}

/// The token of the pending sign-in that `response` sets, which sends the browser to the
/// second step and starts no session.
fn pending_step(response: &Response) -> String {
    assert_eq!((response.status(), location(response)), (StatusCode::SEE_OTHER, "/login/second-factor"));
    let cookies = set_cookies(response);
    assert!(!cookies.iter().any(|c| c.starts_with("auth_session=")), "no session before the code: {cookies:?}");
    let pending = cookies.iter().find(|c| c.starts_with("auth_session_pending=")).expect("the pending cookie");
    assert!(pending.contains("; HttpOnly") && pending.contains("; SameSite=Lax"), "{cookies:?}");
    let token = pending.split(';').next().unwrap().strip_prefix("auth_session_pending=").unwrap().to_owned();
    assert_eq!(token.len(), 40);
    token
}

async fn second_step(app: &App, browser: &Client, code: &str) -> Response {
    post_form(browser, &app.url("/login/second-factor"), &[("code", code)]).await
}

#[tokio::test]
async fn an_authenticator_app_is_asked_for_at_sign_in_and_recovery_codes_work_once() {
    let app = App::start().await;
    let name = unique_name();
    let browser = app.browser();
    sign_up(&app, &browser, &name).await;
    let (_, account) = page(&browser, &app.url("/account")).await;
    assert!(account.contains(r#"id="totp-enrol""#), "{account}");
    let (secret, codes) = enrol_totp(&app, &browser).await;
    let (_, account) = page(&browser, &app.url("/account")).await;
    assert!(account.contains("10 recovery codes left."), "{account}");
    // Set up already: a second enrolment is refused (it would replace nothing).
    let response = post_form(&browser, &app.url("/account/totp"), &[]).await;
    assert_eq!(location(&response), "/account?notice=totp-already-on");

    // The password alone is no longer a sign-in: a pending sign-in, which is no session.
    let other = app.browser();
    let pending = password_step(&app, &other, &name).await;
    assert_eq!(page(&other, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    let as_session = app.api().get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {pending}"));
    assert_eq!(as_session.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let as_cookie = app.browser().get(app.url("/account")).header(COOKIE, format!("auth_session={pending}"));
    assert_eq!(location(&as_cookie.send().await.unwrap()), "/login");
    let (status, form) = page(&other, &app.url("/login/second-factor")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"<label for="code">"#) && form.contains(r#"autocomplete="one-time-code""#), "{form}");
    // A wrong code: the form again, 401, as a wrong password.
    let response = second_step(&app, &other, &wrong_totp_code(&secret)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("That code is not right."));
    // The app's code (the next step's: the confirmation used this one) signs in.
    let code = common::totp_code(&secret, common::now_seconds() + 30);
    let response = second_step(&app, &other, &code).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/account"));
    let cookies = set_cookies(&response);
    assert!(cookies.iter().any(|c| c.starts_with("auth_session_pending=;") && c.contains("Max-Age=0")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("auth_session=") && cookie_token(c).len() == 40), "{cookies:?}");
    assert_eq!(page(&other, &app.url("/account")).await.0, StatusCode::OK);
    // The pending sign-in is used up; the same code is refused on a new one (no replay).
    let third = app.browser();
    let response = post_form(&third, &app.url("/login/second-factor"), &[("code", &code)]).await;
    assert_eq!(location(&response), "/login", "no pending sign-in: back to the password");
    password_step(&app, &third, &name).await;
    assert_eq!(second_step(&app, &third, &code).await.status(), StatusCode::UNAUTHORIZED, "replayed");

    // A recovery code signs in once (typed in capitals, without dashes).
    let typed = codes[0].replace('-', "").to_uppercase();
    let response = second_step(&app, &third, &typed).await;
    assert_eq!(location(&response), "/account");
    let fourth = app.browser();
    password_step(&app, &fourth, &name).await;
    assert_eq!(second_step(&app, &fourth, &codes[0]).await.status(), StatusCode::UNAUTHORIZED, "used up");
    let (_, account) = page(&browser, &app.url("/account")).await;
    assert!(account.contains("9 recovery codes left."), "{account}");

    // New recovery codes, with a code: the old ones stop working.
    let response = post_form(&browser, &app.url("/account/recovery-codes"), &[("code", "not a code")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("That code is not right."));
    let response = post_form(&browser, &app.url("/account/recovery-codes"), &[("code", &codes[1])]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let new_codes = recovery_codes(&response.text().await.unwrap());
    assert!(new_codes.iter().all(|code| !codes.contains(code)));
    assert_eq!(second_step(&app, &fourth, &codes[2]).await.status(), StatusCode::UNAUTHORIZED, "an old code");
    assert_eq!(location(&second_step(&app, &fourth, &new_codes[0]).await), "/account");

    // Turning it off takes a code; then the password alone signs in again.
    let response = post_form(&browser, &app.url("/account/totp/disable"), &[("code", &codes[3])]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "an old recovery code");
    assert!(response.text().await.unwrap().contains(r#"id="totp-status"><span class="tag">on</span>"#));
    let response = post_form(&browser, &app.url("/account/totp/disable"), &[("code", &new_codes[1])]).await;
    assert_eq!(location(&response), "/account?notice=totp-off");
    let response = sign_in(&app, &app.browser(), &name, PASSWORD).await;
    assert_eq!(location(&response), "/account");
}

#[tokio::test]
async fn the_api_signs_in_in_two_steps() {
    let app = App::start().await;
    let name = unique_name();
    let browser = app.browser();
    sign_up(&app, &browser, &name).await;
    let (secret, codes) = enrol_totp(&app, &browser).await;
    let api = app.api();
    let credentials = json!({ "username": name, "password": PASSWORD });
    let response = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["second_factor_required"], true);
    assert!(answer.get("token").is_none(), "{answer}");
    let pending = answer["pending_token"].as_str().unwrap().to_owned();
    let step = |code: &str| {
        let body = json!({ "pending_token": pending, "code": code });
        api.post(app.url("/api/login/second-factor")).json(&body).send()
    };
    let response = step(&wrong_totp_code(&secret)).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error = response.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned();
    assert!(error.starts_with("That code is not right."), "{error}");
    let response = step(&codes[0]).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let me = api.get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Used up.
    let response = step(&codes[1]).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error = response.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("Please sign in again."), "{error}");
}

/// The user id on the account page.
async fn user_id_of(app: &App, browser: &Client) -> String {
    let (_, account) = page(browser, &app.url("/account")).await;
    between(&account, "<dt>User id</dt><dd><code>", "<").to_owned()
}

/// A passkey row for `user_id`, as a registration stores it (the credential itself is not
/// read by the pages).
async fn insert_passkey(app: &App, user_id: &str, id: &str, name: &str) {
    let db = app.database().await;
    let sql = format!(
        r#"INSERT INTO passkey (id, user_id, name, credential, counter, backup_eligible, backup_state, created_at, last_used_at)
           VALUES ('{id}', '{user_id}', '{name}', '{{}}', 0, 1, 1, 1795655076154, NULL)"#
    );
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
}

#[tokio::test]
async fn passkeys_are_listed_renamed_and_removed_but_never_the_last_way_in() {
    let app = App::start().await;
    let (name, other) = (unique_name(), unique_name());
    let browser = app.browser();
    sign_up(&app, &browser, &name).await;
    let user_id = user_id_of(&app, &browser).await;
    let other_browser = app.browser();
    sign_up(&app, &other_browser, &other).await;
    let other_id = user_id_of(&app, &other_browser).await;
    insert_passkey(&app, &user_id, "cGFzc2tleS1vbmU", "Laptop").await;
    insert_passkey(&app, &user_id, "cGFzc2tleS10d28", "Phone <b>").await;
    insert_passkey(&app, &other_id, "b3RoZXItdXNlcg", "Not yours").await;

    let (_, account) = page(&browser, &app.url("/account")).await;
    let list = between(&account, r#"<table id="passkey-list">"#, "</table>");
    assert!(
        list.contains("<td>Laptop <span class=\"tag\">synced</span></td><td>2026-11-26 01:04 UTC</td><td>never</td>"),
        "{list}"
    );
    assert!(
        list.contains("Phone &#60;b&#62;") && !list.contains("<b>") && !list.contains("Not yours"),
        "escaped, own only: {list}"
    );
    assert!(account.contains(r#"<script src="/passkeys.js" defer></script>"#));

    let rename = |id: &'static str, new: &'static str| {
        browser.post(app.url("/account/passkeys/rename")).form(&[("id", id), ("name", new)]).send()
    };
    assert_eq!(
        location(&rename("cGFzc2tleS1vbmU", "  Work laptop  ").await.unwrap()),
        "/account?notice=passkey-renamed"
    );
    let (_, account) = page(&browser, &app.url("/account")).await;
    assert!(account.contains("<td>Work laptop <span"), "trimmed: {account}");
    for (id, what) in [("b3RoZXItdXNlcg", "another user's"), ("bm8tc3VjaA", "unknown")] {
        let response = rename(id, "Mine now").await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{what}");
        assert!(response.text().await.unwrap().contains("That passkey is not on your account."));
        let response = post_form(&browser, &app.url("/account/passkeys/remove"), &[("id", id)]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{what}");
    }
    let (_, theirs) = page(&other_browser, &app.url("/account")).await;
    assert!(theirs.contains("<td>Not yours <span"), "untouched: {theirs}");

    // With passkeys, the password can go; then the last passkey cannot.
    let key = format!("username:{name}");
    let response = post_form(&browser, &app.url("/account/methods/unlink"), &[("key", &key)]).await;
    assert_eq!(location(&response), "/account?notice=unlinked");
    let remove = |id: &'static str| browser.post(app.url("/account/passkeys/remove")).form(&[("id", id)]).send();
    assert_eq!(location(&remove("cGFzc2tleS1vbmU").await.unwrap()), "/account?notice=passkey-removed");
    let response = remove("cGFzc2tleS10d28").await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.unwrap();
    assert!(body.contains(r#"role="alert""#) && body.contains("This passkey is your only way to sign in."), "{body}");
    assert!(body.contains("Phone &#60;b&#62;"), "still listed");
    // The JSON route keeps it too: the `email:` key, which signs no one in, is not counted.
    let response = browser.delete(app.url("/passkeys/cGFzc2tleS10d28")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(page(&browser, &app.url("/account")).await.1.contains("Phone &#60;b&#62;"), "still there");
}

#[tokio::test]
async fn a_password_reset_lists_the_accounts_passkeys_to_review() {
    let app = App::start().await;
    let name = unique_name();
    let browser = app.browser();
    sign_up(&app, &browser, &name).await;
    let user_id = user_id_of(&app, &browser).await;
    let email = email_of(&name);
    let reset = |n: usize| {
        let (app, email) = (&app, &email);
        async move {
            let response = post_form(&app.browser(), &app.url("/forgot-password"), &[("email", email)]).await;
            assert_eq!(response.status(), StatusCode::OK);
            let token = link_token(&common::reset_link(&app.nth_mail_to(email, n).await));
            post_form(
                &app.browser(),
                &app.url("/reset-password"),
                &[("token", &token), ("password", "a brand new passphrase")],
            )
            .await
        }
    };
    // No passkeys: to the sign-in page, as before.
    let response = reset(2).await;
    assert_eq!(location(&response), "/login?notice=password-reset");
    // With one: the page names it and links to the account page to review it.
    insert_passkey(&app, &user_id, "cGFzc2tleS1vbmU", "Unknown tablet").await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let response = reset(3).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("Your password has been reset"), "{html}");
    let list = between(&html, r#"<ul id="reset-passkeys">"#, "</ul>");
    assert!(list.contains("Unknown tablet") && list.contains("added 2026-11-26 01:04 UTC"), "{list}");
    assert!(html.contains(r#"href="/account#passkeys""#), "{html}");
}

#[tokio::test]
async fn second_step_codes_are_limited_per_sign_in_and_per_account() {
    let app = App::start().await;
    let name = unique_name();
    let browser = app.browser();
    sign_up(&app, &browser, &name).await;
    let (secret, _) = enrol_totp(&app, &browser).await;
    let attacker = app.browser();
    password_step(&app, &attacker, &name).await;
    let wrong = wrong_totp_code(&secret);
    for attempt in 0..5 {
        assert_eq!(second_step(&app, &attacker, &wrong).await.status(), StatusCode::UNAUTHORIZED, "{attempt}");
    }
    // One pending sign-in takes five codes; then the password is asked again.
    let response = second_step(&app, &attacker, &wrong).await;
    assert_eq!(location(&response), "/login?notice=sign-in-expired");
    assert!(set_cookies(&response).iter().any(|c| c.starts_with("auth_session_pending=;")), "the cookie is dropped");
    assert!(page(&attacker, &app.url("/login?notice=sign-in-expired")).await.1.contains("Please sign in again."));
    // The account's code budget is spent too: a new pending sign-in waits, the right code too.
    password_step(&app, &attacker, &name).await;
    let right = common::totp_code(&secret, common::now_seconds() + 30);
    for code in [&wrong, &right] {
        let response = second_step(&app, &attacker, code).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
        assert!(response.text().await.unwrap().contains("Too many attempts, try again in"));
    }
}

#[tokio::test]
async fn abandoned_passkey_ceremonies_are_swept() {
    let app = App::start().await;
    let db = app.database().await;
    let insert = |id: &str, expires: i64| {
        let sql = format!(
            "INSERT INTO passkey_challenge (id, user_id, state, expires) VALUES ('{id}', NULL, '{{}}', {expires})"
        );
        Statement::from_string(db.get_database_backend(), sql)
    };
    let later = (common::now_seconds() as i64 + 3600) * 1000;
    db.execute_raw(insert("expired", 1)).await.unwrap();
    db.execute_raw(insert("in-progress", later)).await.unwrap();
    // Another instance on the same database sweeps at its start.
    let _second = App::start_at(lucia_demo::Config { database_url: app.sqlite_url(), ..Default::default() }).await;
    let ids = || async {
        let sql = "SELECT id FROM passkey_challenge ORDER BY id";
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        rows.iter().map(|row| row.try_get_by_index::<String>(0).unwrap()).collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while ids().await != ["in-progress"] {
        assert!(std::time::Instant::now() < deadline, "not swept: {:?}", ids().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn adding_a_passkey_needs_a_recent_sign_in() {
    let app = App::start().await;
    let name = unique_name();
    let browser = app.browser();
    sign_up(&app, &browser, &name).await;
    let start = || browser.post(app.url("/passkeys/register/start")).send();
    let response = start().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["ceremony"].as_str().map(str::len), Some(40));
    assert!(started["options"]["publicKey"]["challenge"].is_string(), "{started}");
    assert_eq!(started["options"]["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(started["options"]["publicKey"]["user"]["name"], name.as_str());

    // Eleven minutes later (the session's start moved back), the sign-in is too old.
    let db = app.database().await;
    let sql = r#"UPDATE "session" SET created_at = created_at - 660000"#;
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let refused = || async {
        let response = start().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({ "error": "reauthentication_required" }));
    };
    refused().await;
    // "Sign out everywhere else" starts a new session, but no new sign-in.
    let response = post_form(&browser, &app.url("/account/sessions/revoke-others"), &[]).await;
    assert_eq!(location(&response), "/account?notice=others-revoked");
    refused().await;
    // Signing in again does.
    assert_eq!(location(&sign_in(&app, &browser, &name, PASSWORD).await), "/account");
    assert_eq!(start().await.unwrap().status(), StatusCode::OK);
}

/// "Sign in with oidc" of a user with an authenticator app goes on to the same second step as a
/// password sign-in: the pending sign-in is no session until the app's code completes it.
#[tokio::test]
async fn a_provider_sign_in_of_a_user_with_an_authenticator_app_asks_for_the_code() {
    let Some((app, _provider)) = App::start_with_oidc().await else { return };
    let browser = app.browser();
    let name = unique_name();
    sign_up(&app, &browser, &name).await;
    let login = format!("{name}-at-provider");
    let callback_url = app.url("/login/oidc/callback");
    let start = browser.post(app.url("/login/oidc/link")).send().await.unwrap();
    let callback = sign_in_at_provider(&url::Url::parse(location(&start)).unwrap(), &login, &callback_url).await;
    assert_eq!(location(&browser.get(callback.as_str()).send().await.unwrap()), "/account?notice=linked");
    let (secret, _) = enrol_totp(&app, &browser).await;

    // Signed out, "Sign in with oidc": the provider account alone does not sign in.
    let other = app.browser();
    let start = other.get(app.url("/login/oidc")).send().await.unwrap();
    let callback = sign_in_at_provider(&url::Url::parse(location(&start)).unwrap(), &login, &callback_url).await;
    let response = other.get(callback.as_str()).send().await.unwrap();
    pending_step(&response);
    assert_eq!(page(&other, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    let (status, form) = page(&other, &app.url("/login/second-factor")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"autocomplete="one-time-code""#), "{form}");
    let response = second_step(&app, &other, &wrong_totp_code(&secret)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(page(&other, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));

    // The app's code (the next step's: the confirmation used this one) signs in.
    let code = common::totp_code(&secret, common::now_seconds() + 30);
    let response = second_step(&app, &other, &code).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/account"));
    let (status, account) = page(&other, &app.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(between(&account, r#"id="account-username">"#, "<"), name.to_lowercase());
}
