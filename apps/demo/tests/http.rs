//! Every page and API flow of the demo over real HTTP.

mod common;

use std::time::Duration;

use common::{App, unique_name};
use lucia::SessionExpiresIn;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
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

async fn sign_up(app: &App, client: &Client, username: &str) -> Response {
    let response = post_form(client, &app.url("/signup"), &[("username", username), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-up of {username}");
    assert_eq!(location(&response), "/account");
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

/// The hidden session ids of the "sign out this one" forms on the account page.
fn other_session_ids(account_page: &str) -> Vec<String> {
    account_page
        .split(r#"name="session_id" value=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn sign_up_sets_a_lucia_cookie_and_shows_the_account() {
    let app = App::start().await;
    let browser = app.browser();
    let (status, form) = page(&browser, &app.url("/signup")).await;
    assert_eq!(status, StatusCode::OK);
    for field in [r#"<label for="username">"#, r#"name="username""#, r#"<label for="password">"#, r#"name="password""#]
    {
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
                   WHERE "user".username = '{name}'"#
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
    assert!(hash.starts_with("s2:") && hash.len() == 148);
    assert_eq!(idle - active, 14 * 86_400_000, "millisecond expiries, 14 idle days");
}

#[tokio::test]
async fn sign_up_errors_are_clear_and_change_nothing() {
    let app = App::start().await;
    let browser = app.browser();
    let name = unique_name();
    sign_up(&app, &browser, &name).await;
    let other = app.browser();
    let cases: [(&str, &str, StatusCode, &str); 5] = [
        (&name, PASSWORD, StatusCode::CONFLICT, "That username is taken"),
        ("newuser", "short", StatusCode::BAD_REQUEST, "at least 8 characters"),
        ("ab", PASSWORD, StatusCode::BAD_REQUEST, "3 to 32 characters"),
        ("bad name", PASSWORD, StatusCode::BAD_REQUEST, "only letters, digits"),
        ("", "", StatusCode::BAD_REQUEST, "3 to 32 characters"),
    ];
    for (username, password, status, message) in cases {
        let response = post_form(&other, &app.url("/signup"), &[("username", username), ("password", password)]).await;
        assert_eq!(response.status(), status, "{username:?}");
        assert!(set_cookies(&response).is_empty());
        let body = response.text().await.unwrap();
        assert!(body.contains(r#"role="alert""#) && body.contains(message), "{username:?}: {body}");
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
    assert!(body.contains("&lt;script&gt;") && !body.contains("<script>x"));
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
    assert!(set_cookies(&response)[0].starts_with("auth_session=; Path=/; Expires=Thu, 01 Jan 1970"));
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
    let others = other_session_ids(&account);
    assert_eq!(others.len(), 2, "three sessions: this one and two others");
    assert!(account.contains("Sign out everywhere else (2 other sessions)"));

    // "Sign out this one" on one of the others.
    let response = post_form(&laptop, &app.url("/account/sessions/revoke"), &[("session_id", &others[0])]).await;
    assert_eq!(location(&response), "/account?notice=revoked");
    let statuses = [page(&phone, &app.url("/account")).await.0, page(&tablet, &app.url("/account")).await.0];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(),
        1,
        "exactly one device was signed out"
    );

    // A session id that is not yours (or no longer exists) is not touched.
    let response = post_form(&laptop, &app.url("/account/sessions/revoke"), &[("session_id", "not-a-session")]).await;
    assert_eq!(location(&response), "/account?notice=gone");

    // "Sign out everywhere else".
    sign_in(&app, &phone, &name, PASSWORD).await;
    let response = laptop.post(app.url("/account/sessions/revoke-others")).send().await.unwrap();
    assert_eq!(location(&response), "/account?notice=others-revoked");
    assert_eq!(page(&phone, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    assert_eq!(page(&tablet, &app.url("/account")).await, (StatusCode::SEE_OTHER, "/login".into()));
    let (status, account) = page(&laptop, &app.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(other_session_ids(&account).is_empty() && account.contains("signed in on this device only"));

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
    let response = post_form(&browser, &app.url("/account/delete"), &[("password", "wrong password")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("was not deleted"));

    let response = post_form(&browser, &app.url("/account/delete"), &[("password", PASSWORD)]).await;
    assert_eq!(location(&response), "/?notice=deleted");
    assert!(set_cookies(&response)[0].contains("Expires=Thu, 01 Jan 1970"));
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
        let response =
            client.get(app.url("/account")).header(COOKIE, format!("auth_session={value}")).send().await.unwrap();
        assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/login"), "{value:.20}");
        assert!(set_cookies(&response)[0].contains("Expires=Thu, 01 Jan 1970"), "the bad cookie is deleted");
    }
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
    let credentials = json!({ "username": name, "password": PASSWORD });

    let response = api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["username"], name.as_str());
    let user_id = created["user_id"].as_str().unwrap().to_owned();

    let response = api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("taken"));
    for (body, status) in [
        (json!({ "username": "someone", "password": "short" }), StatusCode::BAD_REQUEST),
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
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "user_id": user_id, "username": name }));
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

/// The URL of a test server, or `None` (skip) when it is not configured and not required.
fn server_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => panic!("{variable} is not set"),
        _ => {
            eprintln!("SKIPPED: set {variable} to run the demo on that server");
            None
        }
    }
}

/// Runs the sign-up, API and page flows of the demo on a fresh PostgreSQL schema or MariaDB
/// database (`DATABASE_URL` pointing at a server), dropped afterwards.
async fn runs_on_server(variable: &str) {
    let Some(url) = server_url(variable) else { return };
    let admin = sea_orm::Database::connect(&url).await.unwrap();
    let name = format!("lucia_demo_{}", lucia::generate_random_string(10));
    let postgres = url.starts_with("postgres");
    let database_url = if postgres {
        admin.execute_unprepared(&format!(r#"CREATE SCHEMA "{name}""#)).await.unwrap();
        format!("{url}?options=-c%20search_path%3D{name}")
    } else {
        admin.execute_unprepared(&format!("CREATE DATABASE `{name}`")).await.unwrap();
        format!("{}/{name}", url.rsplit_once('/').unwrap().0)
    };
    let outcome = tokio::spawn(async move {
        let app = App::start_at(lucia_demo::Config { database_url, ..Default::default() }).await;
        let (api, username) = (app.api(), unique_name());
        let credentials = json!({ "username": username, "password": PASSWORD });
        assert_eq!(
            api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap().status(),
            StatusCode::CREATED
        );
        assert_eq!(
            api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap().status(),
            StatusCode::CONFLICT
        );
        let response = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
        let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let me = api.get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}")).send().await.unwrap();
        assert_eq!(me.json::<Value>().await.unwrap()["username"], username.as_str());
        let browser = app.browser();
        assert_eq!(sign_in(&app, &browser, &username, PASSWORD).await.status(), StatusCode::SEE_OTHER);
        let (status, account) = page(&browser, &app.url("/account")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(other_session_ids(&account).len(), 1, "the API session is listed too");
    })
    .await;
    let drop = if postgres { format!(r#"DROP SCHEMA "{name}" CASCADE"#) } else { format!("DROP DATABASE `{name}`") };
    admin.execute_unprepared(&drop).await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

#[tokio::test]
async fn the_demo_runs_on_postgres() {
    runs_on_server("LUCIA_TEST_POSTGRES_URL").await;
}

#[tokio::test]
async fn the_demo_runs_on_mariadb() {
    runs_on_server("LUCIA_TEST_MYSQL_URL").await;
}
