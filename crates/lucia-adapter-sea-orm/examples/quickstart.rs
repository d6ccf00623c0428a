//! Quick start: on a SQLite file (no server), migrate, sign up a user with an email and
//! password, sign in with `use_key`, create and validate a session, and sign out.
//!
//! ```text
//! cargo run --example quickstart [-- path/to/file.db]
//! ```

use lucia::{CreateSession, CreateUser, Error, Lucia, NewKey, UserAdapter};
use lucia_adapter_sea_orm::{LuciaMigration, SeaOrmAdapter, Tables, entity};
use sea_orm::Database;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(LuciaMigration::new())]
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "quickstart.db".into());
    let db = Database::connect(format!("sqlite://{path}?mode=rwc")).await?;
    Migrator::up(&db, None).await?;
    println!("database    {path} (migrated: tables user, key, session)");

    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let auth = Lucia::builder(SeaOrmAdapter::new(db, tables)?).build();

    let (email, password) = ("ada@example.com", "correct horse battery staple");
    let key = NewKey { provider_id: "email".into(), provider_user_id: email.into(), password: Some(password.into()) };
    match auth.create_user(CreateUser { user_id: None, key: Some(key), attributes: Default::default() }).await {
        Ok(user) => println!("signed up   user {} with key email:{email}", user.user_id),
        Err(Error::DuplicateKeyId) => println!("signed up   already (key email:{email} exists from an earlier run)"),
        Err(e) => return Err(e.into()),
    }
    let stored = auth.adapter().get_key(&format!("email:{email}")).await?.and_then(|k| k.hashed_password);
    println!("stored      hashed_password {}…", stored.as_deref().unwrap_or("").get(..24).unwrap_or(""));

    match auth.use_key("email", email, Some("wrong password")).await {
        Err(Error::InvalidPassword) => println!("sign-in     with a wrong password: rejected (InvalidPassword)"),
        other => println!("sign-in     with a wrong password: unexpected {other:?}"),
    }
    let key = auth.use_key("email", email, Some(password)).await?;
    println!("signed in   as user {}", key.user_id);

    let session = auth
        .create_session(CreateSession { user_id: key.user_id, session_id: None, attributes: Default::default() })
        .await?;
    println!("session     {} created", session.session_id);
    println!("set-cookie  {}", auth.create_session_cookie(Some(&session)));

    let validated = auth.validate_session(&session.session_id).await?;
    println!(
        "validated   session of user {} ({:?}, fresh: {})",
        validated.user.user_id, validated.state, validated.fresh
    );

    auth.invalidate_session(&session.session_id).await?;
    match auth.validate_session(&session.session_id).await {
        Err(Error::InvalidSessionId) => println!("signed out  the session no longer validates"),
        other => println!("signed out  unexpected {other:?}"),
    }
    Ok(())
}
