//! One test per difference from lucia@2.7.7 that issue 7 (point 8 of "Found", point 9 of
//! "Found" for atomic deletes) fixed: `v2_<what now holds>`.

use lucia::{
    AttributeMap, CreateSession, CreateUser, DatabaseSession, Error, Lucia, NewKey, PasswordRejection, SessionTokens,
};
use lucia_adapter_test::TestDatabase;
use serde_json::json;

use super::{
    Ctx, DAY, Fixture, START, Table, assert_err, attribute_map, new_session, new_user, new_user_with_password, token,
    user, xx,
};

/// Lucia v2: `Error::Database` (only inserts were classified). Now the typed error names the
/// column, and the row keeps its value.
pub async fn v2_update_user_attributes_to_a_taken_value_is_duplicate_attribute<F: Fixture>(t: &Ctx<F>) {
    new_user(&t.auth, "ada").await;
    let bob = new_user(&t.auth, "bob").await;
    let rows = t.db().users().await;
    match t.auth.update_user_attributes(&bob, &json!({ "username": "ada" })).await {
        Err(Error::DuplicateAttribute { column }) => assert_eq!(column.as_deref(), Some("username")),
        other => panic!("expected DuplicateAttribute, got {other:?}"),
    }
    assert_eq!(t.db().users().await, rows, "the row is unchanged");
    assert_eq!(t.auth.get_user(&bob).await.unwrap().attributes, user("bob"));
    // A user's own value is not taken.
    t.auth.update_user_attributes(&bob, &json!({ "username": "bob" })).await.unwrap();
    let error = t.auth.update_user_attributes(&bob, &json!({ "username": "ada" })).await.unwrap_err();
    assert!(!error.to_string().contains("test_user"), "no table name in the message: {error}");
}

/// Lucia v2's `useKey` refuses `""`; this crate's first version signed in with it. Now an
/// empty password is `InvalidPassword` everywhere and never stored.
pub async fn v2_empty_password_is_invalid_password<F: Fixture>(t: &Ctx<F>) {
    let id = new_user_with_password(&t.auth, "e", "pw").await;
    t.auth.create_key(&id, NewKey::passwordless("github", "3")).await.unwrap();
    let keys = t.db().keys().await;
    assert_err!(t.auth.use_key("email", "e@example.com", Some("")).await, Error::InvalidPassword);
    assert_err!(t.auth.sign_in("email", "e@example.com", Some(""), xx()).await, Error::InvalidPassword);
    assert_err!(t.auth.use_key("github", "3", Some("")).await, Error::InvalidPassword);
    assert_err!(t.auth.sign_in("github", "3", Some(""), xx()).await, Error::InvalidPassword);
    assert_err!(t.auth.sign_in("email", "nobody@example.com", Some(""), xx()).await, Error::InvalidKeyId);
    assert_eq!(t.db().sessions().await, vec![], "no placeholder written");

    // A new empty password is refused by the policy, whatever its minimum.
    let empty_key = NewKey::password("email", "f@example.com", "");
    assert_err!(
        t.auth.create_key(&id, empty_key).await,
        Error::PasswordRejected(PasswordRejection::TooShort { min: 1 })
    );
    let options = CreateUser::new(user("f")).with_key(NewKey::password("email", "f@example.com", ""));
    assert_err!(t.auth.create_user(options).await, Error::PasswordRejected(PasswordRejection::TooShort { min: 1 }));
    assert_err!(
        t.auth.change_password("email", "e@example.com", "").await,
        Error::PasswordRejected(PasswordRejection::TooShort { min: 1 })
    );
    assert_err!(
        t.auth.update_key_password("email", "e@example.com", Some("")).await,
        Error::PasswordRejected(PasswordRejection::TooShort { min: 1 })
    );
    assert_eq!(t.db().keys().await, keys);
    assert_eq!(t.db().users().await.len(), 1);
    t.auth.use_key("email", "e@example.com", Some("pw")).await.unwrap();
}

/// Lucia v2 (and this crate before): a `NOT NULL` attribute column left out was a database
/// error (a 500); now it is `InvalidAttributes` before any write, like an explicit `null`.
/// Only stores with a schema have such columns.
pub async fn v2_missing_not_null_attribute_is_invalid_attributes<F: Fixture>(t: &Ctx<F>) {
    if !t.fixture.has_schema() {
        return;
    }
    let auth: Lucia<_, AttributeMap, AttributeMap> =
        t.builder(t.adapter()).user_attributes::<AttributeMap>().session_attributes::<AttributeMap>().build();
    for attributes in [json!({}), json!({ "username": null })] {
        let options =
            CreateUser::new(attribute_map(attributes.clone())).with_key(NewKey::passwordless("email", "n@example.com"));
        assert_err!(auth.create_user(options).await, Error::InvalidAttributes(_));
        assert_eq!(t.db().users().await, vec![], "{attributes}: nothing written");
        assert_eq!(t.db().keys().await, vec![], "{attributes}: nothing written");
    }
    let key = NewKey::passwordless("email", "n@example.com");
    let id = auth.create_user(CreateUser::new(attribute_map(json!({ "username": "n" }))).with_key(key)).await.unwrap();
    for attributes in [json!({}), json!({ "country": null })] {
        let options = CreateSession::new(id.user_id.clone(), attribute_map(attributes.clone()));
        assert_err!(auth.create_session(options).await, Error::InvalidAttributes(_));
        let signed_in = auth.sign_in("email", "n@example.com", None, attribute_map(attributes.clone())).await;
        assert_err!(signed_in, Error::InvalidAttributes(_));
        assert_eq!(t.db().sessions().await, vec![], "{attributes}: nothing written");
    }
}

/// One limit, [`lucia::MAX_SESSION_TOKEN_LENGTH`], everywhere: longer tokens are refused by
/// `validate_session` and `get_session`, no session can be created with one (tokens are
/// generated), and a Lucia v2 id at the limit works.
pub async fn v2_oversized_tokens_are_invalid_session_id<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "o").await;
    let max = lucia::MAX_SESSION_TOKEN_LENGTH;
    assert_eq!(max, 255);
    let long = "x".repeat(max + 1);
    assert_err!(t.auth.validate_session(&long).await, Error::InvalidSessionId);
    assert_err!(t.auth.get_session(&long).await, Error::InvalidSessionId);
    assert_err!(t.auth.update_session_attributes(&long, &json!({})).await, Error::InvalidSessionId);

    let at_limit = "y".repeat(max);
    let row = |stored: String| DatabaseSession {
        id: stored,
        user_id: id.clone(),
        active_expires: START + DAY,
        idle_expires: START + 15 * DAY,
        attributes: attribute_map(json!({ "country": "XX" })),
    };
    // Compat mode: a Lucia v2 application wrote an id of 255 characters.
    t.db().insert_session(&row(at_limit.clone())).await;
    let compat = t.builder(t.adapter()).session_tokens(SessionTokens::Plain).build();
    compat.validate_session(&at_limit).await.unwrap();
    compat.invalidate_session(&at_limit).await.unwrap();
    // Hashed mode: the same token's hash.
    t.db().insert_session(&row(SessionTokens::Hashed.stored_id(&at_limit))).await;
    t.auth.validate_session(&at_limit).await.unwrap();
    t.auth.invalidate_session(&at_limit).await.unwrap();
    assert_eq!(t.db().sessions().await, vec![]);
}

/// Lucia v2 ignored unknown ids on `invalidateSession`; this crate's first version errored on
/// oversized ones. Now every token is `Ok`, and revokes its session if it has one.
pub async fn v2_invalidate_session_of_oversized_or_unknown_token_is_ok<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "i").await;
    let kept = new_session(&t.auth, &id).await;
    let rows = t.db().sessions().await;
    let long = "x".repeat(lucia::MAX_SESSION_TOKEN_LENGTH + 1);
    let huge = "z".repeat(10_000);
    let compat = t.builder(t.adapter()).session_tokens(SessionTokens::Plain).build();
    for unknown in [long.as_str(), huge.as_str(), "unknown", "", "\0", "a\0b", "*"] {
        t.auth.invalidate_session(unknown).await.unwrap();
        compat.invalidate_session(unknown).await.unwrap();
    }
    assert_eq!(t.db().sessions().await, rows);
    t.auth.validate_session(token(&kept)).await.unwrap();
}

/// Lucia v2 inserted an orphan key when the table had no foreign key. Now an unknown user is
/// `InvalidUserId` on every store, and nothing is written.
pub async fn v2_create_key_for_unknown_user_is_invalid_user_id<F: Fixture>(t: &Ctx<F>) {
    assert_err!(
        t.auth.create_key("nobody", NewKey::passwordless("email", "o@example.com")).await,
        Error::InvalidUserId
    );
    let with_password = NewKey::password("email", "p@example.com", "pw");
    assert_err!(t.auth.create_key("nobody", with_password).await, Error::InvalidUserId);
    assert_err!(t.auth.create_session(CreateSession::new("nobody", xx())).await, Error::InvalidUserId);
    assert_eq!(t.db().keys().await, vec![]);
    assert_eq!(t.db().sessions().await, vec![]);
}

/// Lucia v2 deleted sessions, keys and the user in three statements: a failure between them
/// left a user without sessions or keys. Now one transaction: if the last delete fails,
/// nothing is deleted.
pub async fn v2_delete_user_is_atomic<F: Fixture>(t: &Ctx<F>) {
    let id = new_user_with_password(&t.auth, "d", "pw").await;
    let created = new_session(&t.auth, &id).await;
    let rows = (t.db().users().await, t.db().keys().await, t.db().sessions().await);
    if t.fixture.fail_deletes(Table::User).await {
        assert_err!(t.auth.delete_user(&id).await, Error::Database(_));
        t.fixture.allow_deletes(Table::User).await;
        assert_eq!((t.db().users().await, t.db().keys().await, t.db().sessions().await), rows, "rolled back");
        t.auth.validate_session(token(&created)).await.unwrap();
        t.auth.use_key("email", "d@example.com", Some("pw")).await.unwrap();
    }
    if t.fixture.fail_deletes(Table::Key).await {
        assert_err!(t.auth.delete_user(&id).await, Error::Database(_));
        t.fixture.allow_deletes(Table::Key).await;
        assert_eq!((t.db().users().await, t.db().keys().await, t.db().sessions().await), rows, "rolled back");
    }
    t.auth.delete_user(&id).await.unwrap();
    assert_eq!((t.db().users().await, t.db().keys().await, t.db().sessions().await), (vec![], vec![], vec![]));
}

/// Refusing Lucia's own column names as attributes differs from Lucia v2 (which let them
/// through to the database): `id` for users; `id`, `user_id`, `active_expires`, `idle_expires`
/// for sessions. Refused before any write, on every store.
pub async fn v2_lucia_column_names_are_not_attributes<F: Fixture>(t: &Ctx<F>) {
    let auth: Lucia<_, AttributeMap, AttributeMap> =
        t.builder(t.adapter()).user_attributes::<AttributeMap>().session_attributes::<AttributeMap>().build();
    let options = CreateUser::new(attribute_map(json!({ "id": "chosen", "username": "c" })));
    assert_err!(auth.create_user(options).await, Error::InvalidAttributes(_));
    let id = auth.create_user(CreateUser::new(attribute_map(json!({ "username": "c" })))).await.unwrap().user_id;
    assert_err!(auth.update_user_attributes(&id, &json!({ "id": "other" })).await, Error::InvalidAttributes(_));
    let created = auth.create_session(CreateSession::new(id.clone(), attribute_map(json!({ "country": "C" })))).await;
    let created = created.unwrap();
    for reserved in ["id", "user_id", "active_expires", "idle_expires"] {
        let attributes = attribute_map(json!({ "country": "C", reserved: "x" }));
        assert_err!(auth.create_session(CreateSession::new(id.clone(), attributes)).await, Error::InvalidAttributes(_));
        let update = json!({ reserved: "x" });
        assert_err!(
            auth.update_session_attributes(created.token.expose_secret(), &update).await,
            Error::InvalidAttributes(_)
        );
    }
    assert_eq!(t.db().users().await.iter().map(|u| u.id.clone()).collect::<Vec<_>>(), vec![id]);
    assert_eq!(t.db().sessions().await.len(), 1);
}
