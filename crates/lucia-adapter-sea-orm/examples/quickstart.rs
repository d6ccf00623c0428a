//! Quick start: on a SQLite file (no server), migrate, sign up a user with an email and
//! password, sign in (which starts a session), validate the session's token, list the user's
//! sessions by handle, and sign out.
//!
//! ```text
//! cargo run --example quickstart [-- path/to/file.db]
//! ```

use lucia::{CreateUser, Error, Lucia, NewKey, UserAdapter};
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
    let key = NewKey::password("email", email, password);
    match auth.create_user(CreateUser::new(Default::default()).with_key(key)).await {
        Ok(user) => println!("signed up   user {} with key email:{email}", user.user_id),
        Err(Error::DuplicateKeyId) => println!("signed up   already (key email:{email} exists from an earlier run)"),
        Err(e) => return Err(e.into()),
    }
    let stored = auth.adapter().get_key(&format!("email:{email}")).await?.and_then(|k| k.hashed_password);
    println!("stored      hashed_password {}…", stored.as_deref().unwrap_or("").get(..24).unwrap_or(""));

    match auth.sign_in("email", email, Some("wrong password"), Default::default()).await {
        Err(Error::InvalidPassword) => println!("sign-in     with a wrong password: rejected (InvalidPassword)"),
        other => println!("sign-in     with a wrong password: unexpected {other:?}"),
    }
    let signed_in = auth.sign_in("email", email, Some(password), Default::default()).await?;
    let user_id = signed_in.session.user.user_id.clone();
    println!("signed in   as user {user_id}: session {}", signed_in.session.handle);
    // The token goes into the cookie and nowhere else; printing it here is for the tour only.
    println!("set-cookie  {}", auth.create_session_cookie(&signed_in.token, &signed_in.session));

    let token = signed_in.token.expose_secret();
    let validated = auth.validate_session(token).await?;
    println!(
        "validated   session of user {} ({:?}, fresh: {})",
        validated.user.user_id, validated.state, validated.fresh
    );
    for session in auth.get_all_user_sessions(&user_id).await? {
        println!("listed      session {} (a handle: it cannot sign in)", session.handle);
    }

    auth.invalidate_session(token).await?;
    match auth.validate_session(token).await {
        Err(Error::InvalidSessionId) => println!("signed out  the session no longer validates"),
        other => println!("signed out  unexpected {other:?}"),
    }
    Ok(())
}
