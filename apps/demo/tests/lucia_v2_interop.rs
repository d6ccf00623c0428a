//! The demo in its Lucia v2 compatible mode (`--lucia-v2-compat`) shares a live database with
//! the real lucia@2.7.7 (Node, through Lucia's own `pg` and `mysql2` adapters): a user signed up
//! and signed in through the demo's API signs in and validates its session in lucia@2, and a
//! user and session lucia@2 made sign in and authenticate through the demo's API.
//!
//! Needs `node`, `npm ci --prefix interop/lucia-v2` (`.ci/run` does both) and the server URLs;
//! skipped otherwise, unless `LUCIA_TEST_REQUIRE_SERVERS=1`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{App, unique_name};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

fn required() -> bool {
    std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

fn interop_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/lucia-v2");
    if dir.join("node_modules/lucia").is_dir() {
        return Some(dir);
    }
    assert!(!required(), "lucia@2 is not installed: run `npm ci --prefix interop/lucia-v2`");
    eprintln!("SKIPPED: run `npm ci --prefix interop/lucia-v2` to test against lucia@2.7.7");
    None
}

fn server_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(!required(), "{variable} is not set");
            eprintln!("SKIPPED: set {variable} to run the demo against lucia@2 on that server");
            None
        }
    }
}

async fn share_with_lucia_v2(variable: &str) {
    let (Some(dir), Some(url)) = (interop_dir(), server_url(variable)) else { return };
    let admin = sea_orm::Database::connect(&url).await.unwrap();
    let name = format!("lucia_interop_{}", lucia::generate_random_string(10));
    let postgres = url.starts_with("postgres");
    let (database_url, node) = if postgres {
        admin.execute_unprepared(&format!(r#"CREATE SCHEMA "{name}""#)).await.unwrap();
        let node = json!({ "dialect": "postgres", "url": url, "schema": name });
        (format!("{url}?options=-c%20search_path%3D{name}"), node)
    } else {
        admin.execute_unprepared(&format!("CREATE DATABASE `{name}`")).await.unwrap();
        let database_url = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
        (database_url.clone(), json!({ "dialect": "mysql", "url": database_url }))
    };
    let outcome = tokio::spawn(run(database_url, node, dir)).await;
    let drop = if postgres { format!(r#"DROP SCHEMA "{name}" CASCADE"#) } else { format!("DROP DATABASE `{name}`") };
    admin.execute_unprepared(&drop).await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn run(database_url: String, mut node: Value, dir: PathBuf) {
    let config = lucia_demo::Config { database_url, lucia_v2_compat: true, ..Default::default() };
    let app = App::start_at(config).await;
    let api = app.api();

    // The demo signs a user up and in.
    let (username, password) = (unique_name(), "rust pässword");
    let credentials = json!({ "username": username, "email": common::email_of(&username), "password": password });
    let signed_up = api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let user_id = signed_up.json::<Value>().await.unwrap()["user_id"].as_str().unwrap().to_owned();
    let login = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    let token = login.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    // lucia@2 signs that user in and validates the demo's session, then makes its own.
    let node_username = unique_name();
    node.as_object_mut().unwrap().extend(
        json!({
            "provider": "username",
            "rust": { "email": username, "password": password, "userId": user_id,
                      "username": username, "sessionId": token },
            "node": { "email": node_username, "password": "node pass ﬁ", "username": node_username },
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    let output =
        Command::new("node").arg("interop.mjs").arg(node.to_string()).current_dir(&dir).output().expect("node runs");
    assert!(output.status.success(), "lucia@2 failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let made: Value = serde_json::from_slice(&output.stdout).expect("lucia@2 printed JSON");

    // The demo authenticates lucia@2's session and signs its user in ("ﬁ" is "fi" under NFKC).
    let node_token = made["sessionId"].as_str().unwrap();
    let me = api.get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {node_token}")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me = me.json::<Value>().await.unwrap();
    assert_eq!(
        (me["user_id"].as_str(), me["username"].as_str()),
        (made["userId"].as_str(), Some(node_username.as_str()))
    );
    let node_credentials = json!({ "username": node_username, "password": "node pass fi" });
    let login = api.post(app.url("/api/login")).json(&node_credentials).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_demo_shares_a_postgres_database_with_lucia_v2() {
    share_with_lucia_v2("LUCIA_TEST_POSTGRES_URL").await;
}

#[tokio::test]
async fn the_demo_shares_a_mariadb_database_with_lucia_v2() {
    share_with_lucia_v2("LUCIA_TEST_MYSQL_URL").await;
}
