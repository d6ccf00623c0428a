//! Users: creation with and without a first key, attributes, deletion.

use lucia::{AttributeMap, CreateUser, Error, Lucia, LuciaScrypt, NewKey};
use lucia_adapter_test::TestDatabase;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Ctx, Fixture, assert_err, attribute_map, email_key, new_session, new_user, stored_id, user, xx};

pub async fn create_user_with_key_and_sign_in<F: Fixture>(t: &Ctx<F>) {
    // The real hasher, end to end: Lucia v2's `s2:` scrypt hashes.
    let auth = t.builder(t.adapter()).password_hasher(LuciaScrypt).build();
    let key = email_key("ada@example.com", "correct horse");
    let created = auth.create_user(CreateUser::new(user("ada")).with_key(key)).await.unwrap();
    assert_eq!(created.user_id.len(), 15);
    assert!(created.user_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(created.attributes, user("ada"));

    let rows = t.db().keys().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, "email:ada@example.com");
    assert_eq!(rows[0].user_id, created.user_id);
    let hash = rows[0].hashed_password.as_deref().unwrap();
    assert!(hash.starts_with("s2:") && hash.len() == 148, "{hash}");

    let key = auth.use_key("email", "ada@example.com", Some("correct horse")).await.unwrap();
    assert_eq!(key.user_id, created.user_id);
    assert!(key.password_defined);
    assert_eq!(t.db().sessions().await, vec![], "use_key starts no session");

    let signed_in = auth.sign_in("email", "ada@example.com", Some("correct horse"), xx()).await.unwrap();
    assert_eq!(signed_in.session.user, created);
    assert!(signed_in.session.fresh);
    let validated = auth.validate_session(signed_in.token.expose_secret()).await.unwrap();
    assert_eq!(validated.user, created);
    assert_eq!(validated.handle, signed_in.session.handle);
    assert_eq!(t.db().sessions().await.len(), 1);
}

pub async fn create_user_without_key<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "solo").await;
    assert_eq!(t.auth.get_user(&id).await.unwrap().attributes, user("solo"));
    assert_eq!(t.db().keys().await, vec![]);
    assert_eq!(t.auth.get_all_user_keys(&id).await.unwrap(), vec![]);
}

pub async fn create_user_duplicate_key_writes_nothing<F: Fixture>(t: &Ctx<F>) {
    let key = email_key("a@example.com", "one");
    t.auth.create_user(CreateUser::new(user("first")).with_key(key.clone())).await.unwrap();
    let (users, keys) = (t.db().users().await, t.db().keys().await);
    assert_err!(t.auth.create_user(CreateUser::new(user("second")).with_key(key)).await, Error::DuplicateKeyId);
    assert_eq!((t.db().users().await, t.db().keys().await), (users, keys));
}

pub async fn create_user_duplicate_user_id_is_not_a_duplicate_key<F: Fixture>(t: &Ctx<F>) {
    let first = CreateUser { user_id: Some("taken".into()), ..CreateUser::new(user("first")) };
    t.auth.create_user(first).await.unwrap();
    let users = t.db().users().await;
    let second = CreateUser { user_id: Some("taken".into()), ..CreateUser::new(user("second")) }
        .with_key(NewKey::passwordless("email", "new@example.com"));
    assert_err!(t.auth.create_user(second).await, Error::DuplicateUserId);
    assert_eq!(t.db().users().await, users);
    assert_eq!(t.db().keys().await, vec![]);
}

pub async fn create_user_taken_username_is_duplicate_attribute<F: Fixture>(t: &Ctx<F>) {
    new_user(&t.auth, "ada").await;
    let again = CreateUser::new(user("ada")).with_key(NewKey::passwordless("email", "x@example.com"));
    match t.auth.create_user(again).await {
        Err(error @ Error::DuplicateAttribute { .. }) => {
            assert!(matches!(&error, Error::DuplicateAttribute { column } if column.as_deref() == Some("username")));
            // No database text (table names, constraint names, values) reaches the message.
            let message = format!("{error} {error:?}");
            for leak in ["test_user", "UNIQUE", "Duplicate entry", "constraint", "ada"] {
                assert!(!message.contains(leak), "{message}");
            }
        }
        other => panic!("expected DuplicateAttribute, got {other:?}"),
    }
    assert_eq!(t.db().users().await.len(), 1);
    assert_eq!(t.db().keys().await, vec![]);
}

pub async fn create_user_invalid_provider_id_writes_nothing<F: Fixture>(t: &Ctx<F>) {
    let options = CreateUser::new(user("x")).with_key(NewKey::passwordless("e:mail", "x"));
    assert_err!(t.auth.create_user(options).await, Error::InvalidProviderId);
    assert_eq!(t.db().users().await, vec![]);
    assert_err!(t.auth.use_key("e:mail", "x", None).await, Error::InvalidProviderId);
    assert_err!(t.auth.sign_in("e:mail", "x", None, xx()).await, Error::InvalidProviderId);
    assert_eq!(t.db().sessions().await, vec![]);
}

pub async fn custom_user_ids_are_kept_verbatim<F: Fixture>(t: &Ctx<F>) {
    // Lucia v1 ids were mixed-case; ids from the database are never validated.
    let options = CreateUser { user_id: Some("laRZ8RgA34YYcgj".into()), ..CreateUser::new(user("v1")) };
    t.auth.create_user(options).await.unwrap();
    assert_eq!(t.db().users().await[0].id, "laRZ8RgA34YYcgj");
    let created = new_session(&t.auth, "laRZ8RgA34YYcgj").await;
    assert_eq!(t.db().sessions().await[0].user_id, "laRZ8RgA34YYcgj");
    let validated = t.auth.validate_session(created.token.expose_secret()).await.unwrap();
    assert_eq!(validated.user.user_id, "laRZ8RgA34YYcgj");
    assert_err!(t.auth.get_user("larz8rga34yycgj").await, Error::InvalidUserId);
}

pub async fn get_user_unknown_is_invalid_user_id<F: Fixture>(t: &Ctx<F>) {
    assert_err!(t.auth.get_user("nobody").await, Error::InvalidUserId);
    assert_err!(t.auth.get_user("").await, Error::InvalidUserId);
}

pub async fn update_user_attributes_partial_empty_and_errors<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "old").await;
    let updated = t.auth.update_user_attributes(&id, &json!({ "username": "new" })).await.unwrap();
    assert_eq!(updated.attributes, user("new"));
    let unchanged = t.auth.update_user_attributes(&id, &json!({})).await.unwrap();
    assert_eq!(unchanged.attributes, user("new"));
    assert_err!(t.auth.update_user_attributes("nobody", &json!({ "username": "z" })).await, Error::InvalidUserId);
    let rows = t.db().users().await;
    if t.fixture.has_schema() {
        let refused = [json!({ "nope": 1 }), json!({ "username": 5 }), json!({ "username": null })];
        for attributes in refused {
            assert_err!(t.auth.update_user_attributes(&id, &attributes).await, Error::InvalidAttributes(_));
        }
    }
    assert_err!(t.auth.update_user_attributes(&id, &json!({ "id": "other" })).await, Error::InvalidAttributes(_));
    assert_err!(t.auth.update_user_attributes(&id, &json!(["username"])).await, Error::InvalidAttributes(_));
    assert_eq!(t.db().users().await, rows);
}

pub async fn delete_user_removes_sessions_keys_and_user<F: Fixture>(t: &Ctx<F>) {
    // The SQL tables' foreign keys are ON DELETE NO ACTION: this only works in the right order.
    let key = NewKey::passwordless("email", "gone@example.com");
    let gone = t.auth.create_user(CreateUser::new(user("gone")).with_key(key)).await.unwrap();
    let kept = new_user(&t.auth, "kept").await;
    t.auth.create_key(&kept, NewKey::passwordless("github", "1")).await.unwrap();
    let doomed = new_session(&t.auth, &gone.user_id).await;
    let kept_session = new_session(&t.auth, &kept).await;
    t.auth.delete_user(&gone.user_id).await.unwrap();
    assert_eq!(t.db().users().await.iter().map(|u| u.id.clone()).collect::<Vec<_>>(), vec![kept.clone()]);
    assert_eq!(t.db().keys().await.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), vec!["github:1"]);
    let sessions = t.db().sessions().await;
    assert_eq!(sessions.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![stored_id(&kept_session)]);
    assert_err!(t.auth.validate_session(doomed.token.expose_secret()).await, Error::InvalidSessionId);
    assert_err!(t.auth.use_key("email", "gone@example.com", None).await, Error::InvalidKeyId);
    t.auth.delete_user(&gone.user_id).await.unwrap();
    t.auth.delete_user("nobody").await.unwrap();
}

pub async fn attributes_that_are_not_columns_are_rejected<F: Fixture>(t: &Ctx<F>) {
    // With a JSON map as the attribute type, anything can be attempted.
    let auth: Lucia<_, AttributeMap, AttributeMap> =
        t.builder(t.adapter()).user_attributes::<AttributeMap>().session_attributes::<AttributeMap>().build();
    let options = CreateUser::new(attribute_map(json!({ "id": "x", "username": "x" })));
    assert_err!(auth.create_user(options).await, Error::InvalidAttributes(_));
    if t.fixture.has_schema() {
        let options = CreateUser::new(attribute_map(json!({ "username": "x", "extra": 1 })));
        assert_err!(auth.create_user(options).await, Error::InvalidAttributes(_));
    }
    let id = auth.create_user(CreateUser::new(attribute_map(json!({ "username": "ok" })))).await.unwrap().user_id;
    for reserved in ["id", "user_id", "active_expires", "idle_expires"] {
        let attributes = attribute_map(json!({ "country": "X", reserved: "y" }));
        let options = lucia::CreateSession::new(id.clone(), attributes.clone());
        assert_err!(auth.create_session(options).await, Error::InvalidAttributes(_));
        assert_err!(auth.sign_in("email", "nobody", None, attributes).await, Error::InvalidAttributes(_));
    }
    assert_eq!(t.db().users().await.len(), 1);
    assert_eq!(t.db().sessions().await, vec![]);

    // A row that does not deserialize into the application's type is a typed error too.
    #[derive(Debug, Serialize, Deserialize)]
    struct Strict {
        username: u32,
    }
    let strict: Lucia<_, Strict, _> = t.builder(t.adapter()).user_attributes::<Strict>().build();
    assert_err!(strict.get_user(&id).await, Error::InvalidAttributes(_));
}

pub async fn ids_no_store_can_hold_are_typed_errors<F: Fixture>(t: &Ctx<F>) {
    // NUL cannot be stored in PostgreSQL text: such ids can exist nowhere, so every store
    // answers as for an unknown id instead of failing with a database error.
    let id = new_user(&t.auth, "nul").await;
    assert_err!(t.auth.get_user("a\0b").await, Error::InvalidUserId);
    assert_err!(t.auth.use_key("email", "a\0b", Some("x")).await, Error::InvalidKeyId);
    assert_err!(t.auth.sign_in("email", "a\0b", Some("x"), xx()).await, Error::InvalidKeyId);
    assert_err!(t.auth.get_key("email", "\0").await, Error::InvalidKeyId);
    assert_err!(t.auth.create_key(&id, NewKey::passwordless("email", "x\0@example.com")).await, Error::InvalidKeyId);
    assert_err!(t.auth.create_key("a\0", NewKey::passwordless("email", "y@example.com")).await, Error::InvalidUserId);
    assert_err!(t.auth.create_session(lucia::CreateSession::new("a\0", xx())).await, Error::InvalidUserId);
    let options = CreateUser { user_id: Some("a\0".into()), ..CreateUser::new(user("z")) };
    assert_err!(t.auth.create_user(options).await, Error::InvalidUserId);
    if t.fixture.has_schema() {
        assert_err!(t.auth.create_user(CreateUser::new(user("bad\0name"))).await, Error::InvalidAttributes(_));
    }
    assert_err!(t.auth.get_all_user_sessions("a\0").await, Error::InvalidUserId);
    assert_err!(t.auth.get_all_user_keys("a\0").await, Error::InvalidUserId);
    t.auth.delete_user("a\0").await.unwrap();
    t.auth.invalidate_all_user_sessions("a\0").await.unwrap();
    t.auth.delete_dead_user_sessions("a\0").await.unwrap();
    t.auth.invalidate_session("a\0b").await.unwrap();
    assert_err!(t.auth.validate_session("a\0b").await, Error::InvalidSessionId);
    assert_eq!(t.db().users().await.len(), 1);
    assert_eq!(t.db().keys().await, vec![]);
    assert_eq!(t.db().sessions().await, vec![]);
}
