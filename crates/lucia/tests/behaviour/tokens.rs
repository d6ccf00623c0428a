//! Email verification and password reset over a [`TokenAdapter`]: codes and links are
//! single-use, short-lived, stored as hashes, bound to the address, limited in tries and in
//! how often they are issued; a reset ends every session. Expanded by
//! `token_behaviour_tests!` for stores that hold tokens.
//!
//! The test user table has no `email_verified` column: its boolean `admin` column stands in
//! for it ([`settings`]).

use std::time::Duration;

use lucia::{Adapter, EmailSettings, Error, NewKey, PasswordPolicy, SessionTokens, TokenAdapter, TokenKind};
use serde_json::json;

use super::{Auth, Ctx, Fixture, assert_err, new_session, new_user, token, user, xx};

const MINUTE: i64 = 60_000;

/// The defaults, with the test table's boolean `admin` column as the verified flag.
fn settings() -> EmailSettings {
    EmailSettings::default().attributes("email", "admin")
}

fn auth<F>(t: &Ctx<F>) -> Auth<F::Adapter>
where
    F: Fixture<Adapter: TokenAdapter>,
{
    t.builder(t.adapter()).email(settings()).build()
}

/// A user with address `<name>@example.com`, not verified, and a password key on it.
async fn email_user<A: Adapter>(auth: &Auth<A>, name: &str) -> (String, String) {
    let email = format!("{name}@example.com");
    let created = lucia::CreateUser::new(user(name)).with_key(NewKey::password("email", &email, "pw"));
    let user_id = auth.create_user(created).await.unwrap().user_id;
    auth.update_user_attributes(&user_id, &json!({ "email": email, "admin": false })).await.unwrap();
    (user_id, email)
}

async fn verified<F: Fixture>(t: &Ctx<F>, user_id: &str) -> Option<bool> {
    let users = lucia_adapter_test::TestDatabase::users(t.db()).await;
    let user = users.into_iter().find(|user| user.id == user_id)?;
    user.attributes.get("admin").and_then(serde_json::Value::as_bool)
}

pub async fn verify_email_sets_the_flag_and_consumes_the_code<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, email) = email_user(&auth, "ada").await;
    let issued = auth.issue_email_verification(&user_id).await.unwrap();
    assert_eq!(issued.email, email);
    assert!(issued.code().len() == 8 && issued.code().bytes().all(|b| b.is_ascii_digit()));
    assert!(!format!("{issued:?}").contains(issued.code()), "Debug hides the code");
    // Stored as a hash, with the address and its expiry.
    let row = t.adapter().get_user_token(&user_id, TokenKind::EmailVerification).await.unwrap().unwrap();
    assert!(row.id.len() == 64 && !row.id.contains(issued.code()));
    assert_eq!((row.email.as_str(), row.expires, row.attempts), (email.as_str(), t.now() + 15 * MINUTE, 0));

    let wrong = if issued.code() == "00000000" { "11111111" } else { "00000000" };
    assert_err!(auth.verify_email(&user_id, wrong).await, Error::InvalidToken);
    assert_eq!(verified(t, &user_id).await, Some(false));
    assert_eq!(auth.verify_email(&user_id, issued.code()).await.unwrap(), email);
    assert_eq!(verified(t, &user_id).await, Some(true));
    assert_err!(auth.verify_email(&user_id, issued.code()).await, Error::InvalidToken);
    assert_eq!(t.adapter().get_user_token(&user_id, TokenKind::EmailVerification).await.unwrap(), None);
}

pub async fn verification_codes_expire<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, _) = email_user(&auth, "ada").await;
    // A code still works at its last millisecond...
    let issued = auth.issue_email_verification(&user_id).await.unwrap();
    t.set_now(t.now() + 15 * MINUTE);
    auth.verify_email(&user_id, issued.code()).await.unwrap();
    // ...and not one after, when it is deleted.
    auth.update_user_attributes(&user_id, &json!({ "admin": false })).await.unwrap();
    let late = auth.issue_email_verification(&user_id).await.unwrap();
    t.set_now(t.now() + 15 * MINUTE + 1);
    assert_err!(auth.verify_email(&user_id, late.code()).await, Error::ExpiredToken);
    assert_err!(auth.verify_email(&user_id, late.code()).await, Error::InvalidToken);
    assert_eq!(verified(t, &user_id).await, Some(false));
}

pub async fn verification_tries_are_limited<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, _) = email_user(&auth, "ada").await;
    let issued = auth.issue_email_verification(&user_id).await.unwrap();
    let wrong = if issued.code() == "00000000" { "11111111" } else { "00000000" };
    for _ in 0..5 {
        assert_err!(auth.verify_email(&user_id, wrong).await, Error::InvalidToken);
    }
    // The sixth try is refused even with the right code, and the code is gone.
    assert_err!(auth.verify_email(&user_id, issued.code()).await, Error::ExpiredToken);
    assert_err!(auth.verify_email(&user_id, issued.code()).await, Error::InvalidToken);
    assert_eq!(verified(t, &user_id).await, Some(false));
    // A new code starts afresh.
    let again = auth.issue_email_verification(&user_id).await.unwrap();
    auth.verify_email(&user_id, again.code()).await.unwrap();
}

pub async fn concurrent_guesses_cannot_exceed_the_tries<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, _) = email_user(&auth, "ada").await;
    let issued = auth.issue_email_verification(&user_id).await.unwrap();
    // 20 wrong guesses at once: every one is counted before it is compared...
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (auth, user_id) = (auth.clone(), user_id.clone());
            let guess = format!("{:08}", (issued.code().parse::<u32>().unwrap_or(0) + 1 + i) % 100_000_000);
            tokio::spawn(async move { auth.verify_email(&user_id, &guess).await })
        })
        .collect();
    for task in tasks {
        assert_err!(task.await.unwrap(), Error::InvalidToken | Error::ExpiredToken);
    }
    // ...so the tries are spent, and the right code no longer works.
    assert!(auth.verify_email(&user_id, issued.code()).await.is_err());
    assert_eq!(verified(t, &user_id).await, Some(false));
}

pub async fn a_new_code_replaces_the_old_one<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, _) = email_user(&auth, "ada").await;
    let first = auth.issue_email_verification(&user_id).await.unwrap();
    let second = auth.issue_email_verification(&user_id).await.unwrap();
    if first.code() != second.code() {
        assert_err!(auth.verify_email(&user_id, first.code()).await, Error::InvalidToken);
    }
    auth.verify_email(&user_id, second.code()).await.unwrap();
}

pub async fn issuing_codes_is_throttled_per_user<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (ada, _) = email_user(&auth, "ada").await;
    let (bob, _) = email_user(&auth, "bob").await;
    for _ in 0..3 {
        auth.issue_email_verification(&ada).await.unwrap();
    }
    match auth.issue_email_verification(&ada).await {
        Err(Error::Throttled { retry_after }) => assert_eq!(retry_after, Duration::from_secs(60)),
        other => panic!("expected a wait of a minute, got {other:?}"),
    }
    auth.issue_email_verification(&bob).await.unwrap();
    t.set_now(t.now() + MINUTE);
    let code = auth.issue_email_verification(&ada).await.unwrap();
    auth.verify_email(&ada, code.code()).await.unwrap();
}

pub async fn a_code_for_an_old_address_does_not_verify_the_new_one<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, _) = email_user(&auth, "ada").await;
    let issued = auth.issue_email_verification(&user_id).await.unwrap();
    // Changed behind the flows' back, without revoking the code.
    auth.update_user_attributes(&user_id, &json!({ "email": "other@example.com" })).await.unwrap();
    assert_err!(auth.verify_email(&user_id, issued.code()).await, Error::InvalidToken);
    assert_eq!(verified(t, &user_id).await, Some(false));
}

pub async fn change_email_revokes_tokens_moves_the_key_and_unverifies<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, email) = email_user(&auth, "ada").await;
    let (_, bobs) = email_user(&auth, "bob").await;
    let code = auth.issue_email_verification(&user_id).await.unwrap();
    auth.verify_email(&user_id, code.code()).await.unwrap();
    let code = auth.issue_email_verification(&user_id).await.unwrap();
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();

    // Another user's address: refused, nothing changes.
    assert_err!(auth.change_email(&user_id, &bobs).await, Error::DuplicateKeyId);
    assert_eq!(verified(t, &user_id).await, Some(true));
    assert!(t.adapter().get_token(&SessionTokens::Hashed.stored_id(reset.token())).await.unwrap().is_some());

    auth.change_email(&user_id, "ada.new@example.com").await.unwrap();
    assert_eq!(verified(t, &user_id).await, Some(false));
    for kind in [TokenKind::EmailVerification, TokenKind::PasswordReset] {
        assert_eq!(t.adapter().get_user_token(&user_id, kind).await.unwrap(), None, "{kind:?} revoked");
    }
    assert_err!(auth.verify_email(&user_id, code.code()).await, Error::InvalidToken);
    assert_err!(auth.reset_password(reset.token(), "new").await, Error::InvalidToken);
    // The password key moved to the new address.
    auth.use_key("email", "ada.new@example.com", Some("pw")).await.unwrap();
    assert_err!(auth.use_key("email", &email, Some("pw")).await, Error::InvalidKeyId);
}

pub async fn password_reset_sets_the_password_ends_sessions_and_verifies<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, email) = email_user(&auth, "ada").await;
    let (other, _) = email_user(&auth, "bob").await;
    let session = new_session(&auth, &user_id).await;
    let others = new_session(&auth, &other).await;

    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    assert_eq!((reset.user_id.as_str(), reset.email.as_str()), (user_id.as_str(), email.as_str()));
    assert_eq!(reset.token().len(), 40);
    assert!(!format!("{reset:?}").contains(reset.token()), "Debug hides the token");
    let row = t.adapter().get_user_token(&user_id, TokenKind::PasswordReset).await.unwrap().unwrap();
    assert_eq!(row.id, SessionTokens::Hashed.stored_id(reset.token()), "stored as its SHA-256");
    assert_eq!(row.expires, t.now() + 60 * MINUTE);

    // Someone has been guessing the password: the key must wait...
    for _ in 0..5 {
        assert_err!(auth.use_key("email", &email, Some("guess")).await, Error::InvalidPassword);
    }
    assert_err!(auth.use_key("email", &email, Some("pw")).await, Error::Throttled { .. });
    // ...until the owner proves the address and sets a new password.
    let user = auth.reset_password(reset.token(), "new").await.unwrap();
    assert_eq!(user.user_id, user_id);
    assert_err!(auth.validate_session(token(&session)).await, Error::InvalidSessionId);
    auth.validate_session(token(&others)).await.unwrap();
    assert_err!(auth.use_key("email", &email, Some("pw")).await, Error::InvalidPassword);
    auth.sign_in("email", &email, Some("new"), xx()).await.unwrap();
    assert_eq!(verified(t, &user_id).await, Some(true), "the link proved the address");
    assert_err!(auth.reset_password(reset.token(), "newer").await, Error::InvalidToken);
    assert_eq!(t.adapter().get_user_token(&user_id, TokenKind::PasswordReset).await.unwrap(), None);
}

pub async fn a_reset_verifies_only_the_address_it_was_sent_to<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, email) = email_user(&auth, "ada").await;
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    // The address changed behind the flows' back (the key stays): the reset still sets the
    // password, but proves nothing about the new address.
    auth.update_user_attributes(&user_id, &json!({ "email": "other@example.com" })).await.unwrap();
    auth.reset_password(reset.token(), "new").await.unwrap();
    assert_eq!(verified(t, &user_id).await, Some(false));
    auth.use_key("email", &email, Some("new")).await.unwrap();
}

pub async fn a_code_is_not_a_reset_link<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, _) = email_user(&auth, "ada").await;
    let code = auth.issue_email_verification(&user_id).await.unwrap();
    // Whatever a code's row is keyed by, presenting it (or its parts) as a link does nothing.
    for presented in
        [code.code().to_owned(), format!("{user_id}\0{}", code.code()), format!("{user_id}:{}", code.code())]
    {
        assert_err!(auth.reset_password(&presented, "new").await, Error::InvalidToken);
    }
    auth.use_key("email", "ada@example.com", Some("pw")).await.unwrap();
    auth.verify_email(&user_id, code.code()).await.unwrap();
}

pub async fn password_reset_issues_nothing_for_unknown_or_passwordless_addresses<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    assert!(auth.request_password_reset("nobody@example.com").await.unwrap().issue().await.unwrap().is_none());
    let oauth_only = new_user(&auth, "carol").await;
    auth.create_key(&oauth_only, NewKey::passwordless("email", "carol@example.com")).await.unwrap();
    assert!(auth.request_password_reset("carol@example.com").await.unwrap().issue().await.unwrap().is_none());
    assert_eq!(t.adapter().get_user_token(&oauth_only, TokenKind::PasswordReset).await.unwrap(), None);
}

pub async fn password_reset_can_set_a_username_key_found_by_address<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = t.builder(t.adapter()).email(settings().password_key_provider("username")).build();
    // Signs in by username; a passwordless address key finds the user.
    let created = lucia::CreateUser::new(user("ada")).with_key(NewKey::password("username", "ada", "pw"));
    let user_id = auth.create_user(created).await.unwrap().user_id;
    auth.create_key(&user_id, NewKey::passwordless("email", "ada@example.com")).await.unwrap();
    auth.update_user_attributes(&user_id, &json!({ "email": "ada@example.com", "admin": false })).await.unwrap();
    let session = new_session(&auth, &user_id).await;
    // An address whose user has no username key gets nothing.
    let carol = new_user(&auth, "carol").await;
    auth.create_key(&carol, NewKey::passwordless("email", "carol@example.com")).await.unwrap();
    assert!(auth.request_password_reset("carol@example.com").await.unwrap().issue().await.unwrap().is_none());

    let reset = auth.request_password_reset("ada@example.com").await.unwrap().issue().await.unwrap().unwrap();
    auth.reset_password(reset.token(), "new").await.unwrap();
    auth.use_key("username", "ada", Some("new")).await.unwrap();
    assert_err!(auth.use_key("username", "ada", Some("pw")).await, Error::InvalidPassword);
    assert_err!(auth.validate_session(token(&session)).await, Error::InvalidSessionId);
    assert_eq!(verified(t, &user_id).await, Some(true));
    // The address key keeps no password.
    assert_err!(auth.use_key("email", "ada@example.com", Some("new")).await, Error::InvalidPassword);
}

pub async fn a_reset_request_touches_no_store_before_the_answer<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let probe = t.probe();
    let auth = t.builder(probe.clone()).email(settings()).build();
    let (_, email) = email_user(&auth, "ada").await;
    // Known or not, the request reads and writes nothing: its answer (and its time) cannot
    // depend on whether the address has an account. Only `issue` looks, off the answer's path.
    for address in [email.as_str(), "nobody@example.com"] {
        let calls = probe.calls();
        let request = auth.request_password_reset(address).await.unwrap();
        assert_eq!(probe.calls(), calls, "{address}");
        let _ = request.issue().await.unwrap();
        assert!(probe.calls() > calls, "issue looks the address up");
    }
    // A failing store fails `issue`, not the request.
    probe.fail("get_key");
    let request = auth.request_password_reset(&email).await.unwrap();
    assert!(request.issue().await.is_err());
}

pub async fn a_failed_change_of_address_takes_its_new_key_back<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let probe = t.probe();
    let auth = t.builder(probe.clone()).email(settings()).build();
    let (user_id, email) = email_user(&auth, "ada").await;
    // The new key is written, then the address change fails (a unique address column taken,
    // the store down): the new key must not stay to find this user by that address.
    probe.fail("revoke_user_tokens");
    assert_err!(auth.change_email(&user_id, "bob@example.com").await, Error::Database(_));
    probe.heal();
    assert_err!(auth.get_key("email", "bob@example.com").await, Error::InvalidKeyId);
    assert!(auth.request_password_reset("bob@example.com").await.unwrap().issue().await.unwrap().is_none());
    auth.use_key("email", &email, Some("pw")).await.unwrap();
    let user = lucia_adapter_test::TestDatabase::users(t.db()).await.into_iter().find(|u| u.id == user_id).unwrap();
    assert_eq!(user.attributes.get("email"), Some(&json!(email)));
}

pub async fn a_sent_link_cannot_be_replaced_for_15_minutes<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (_, email) = email_user(&auth, "ada").await;
    let first = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    // Asking again (anyone can) sends nothing, and the first link keeps working...
    t.set_now(t.now() + 15 * MINUTE);
    assert!(auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().is_none());
    // ...until it is 15 minutes old: then a new link replaces it.
    t.set_now(t.now() + 1);
    let second = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    assert_err!(auth.reset_password(first.token(), "new").await, Error::InvalidToken);
    auth.reset_password(second.token(), "new").await.unwrap();
    // A used link leaves nothing live: the next request sends a link at once.
    t.set_now(t.now() + 60 * MINUTE);
    assert!(auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().is_some());
}

/// A stored link whose expiry is out of any range (a row written by another program, or
/// by hand) counts as expired: asking again replaces it at once, and the new link works.
pub async fn a_stored_link_with_an_expiry_out_of_range_is_replaced<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, email) = email_user(&auth, "ada").await;
    let first = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    let mut stored = t.adapter().get_user_token(&user_id, TokenKind::PasswordReset).await.unwrap().unwrap();
    stored.expires = i64::MIN;
    t.adapter().set_token(stored).await.unwrap();
    let second = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    assert_err!(auth.reset_password(first.token(), "new").await, Error::InvalidToken);
    auth.reset_password(second.token(), "new").await.unwrap();
}

pub async fn a_reset_that_fails_to_set_the_password_gives_the_link_back<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let probe = t.probe();
    let auth = t.builder(probe.clone()).email(settings()).build();
    let (user_id, email) = email_user(&auth, "ada").await;
    let session = new_session(&auth, &user_id).await;
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    probe.fail("update_key_and_end_sessions");
    probe.fail("update_key");
    assert_err!(auth.reset_password(reset.token(), "new").await, Error::Database(_));
    probe.heal();
    auth.use_key("email", &email, Some("pw")).await.unwrap();
    auth.reset_password(reset.token(), "new").await.unwrap();
    auth.use_key("email", &email, Some("new")).await.unwrap();
    assert_err!(auth.validate_session(token(&session)).await, Error::InvalidSessionId);
}

pub async fn a_reset_racing_a_change_of_address_sets_no_password<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let plain = auth(t);
    let probe = t.probe();
    let auth = t.builder(probe.clone()).email(settings()).build();
    let (user_id, email) = email_user(&auth, "ada").await;
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    // The link is used up; before the new password is written, the key moves to a new address.
    let (mover, id) = (plain.clone(), user_id.clone());
    probe.before_method("update_key_and_end_sessions", move || async move {
        mover.change_email(&id, "ada.new@example.com").await.unwrap();
    });
    assert_err!(auth.reset_password(reset.token(), "new").await, Error::InvalidToken);
    probe.clear_hook();
    // The moved key kept the old password; nothing took the new one.
    plain.use_key("email", "ada.new@example.com", Some("pw")).await.unwrap();
    assert_err!(plain.use_key("email", &email, Some("new")).await, Error::InvalidKeyId);
}

pub async fn password_reset_is_throttled_per_address_known_or_not<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (_, email) = email_user(&auth, "ada").await;
    for address in [email.as_str(), "nobody@example.com"] {
        for _ in 0..3 {
            let _ = auth.request_password_reset(address).await.unwrap().issue().await.unwrap();
        }
        assert_err!(auth.request_password_reset(address).await, Error::Throttled { .. });
    }
}

pub async fn reset_links_live_an_hour_at_most<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = t.builder(t.adapter()).email(settings().reset_expires_in(Duration::from_secs(3 * 3600))).build();
    let (user_id, email) = email_user(&auth, "ada").await;
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    t.set_now(t.now() + 60 * MINUTE + 1);
    assert_err!(auth.reset_password(reset.token(), "new").await, Error::ExpiredToken);
    assert_eq!(t.adapter().get_user_token(&user_id, TokenKind::PasswordReset).await.unwrap(), None);
    auth.use_key("email", &email, Some("pw")).await.unwrap();
}

pub async fn a_rejected_new_password_leaves_the_link_usable<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let (_, email) = email_user(&auth(t), "ada").await;
    let auth = t.builder(t.adapter()).email(settings()).password_policy(PasswordPolicy::new()).build();
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    assert_err!(auth.reset_password(reset.token(), "short").await, Error::PasswordRejected(_));
    auth.reset_password(reset.token(), "long enough now").await.unwrap();
    auth.use_key("email", &email, Some("long enough now")).await.unwrap();
}

pub async fn concurrent_redemptions_of_a_link_have_one_winner<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (_, email) = email_user(&auth, "ada").await;
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (auth, token) = (auth.clone(), reset.token().to_owned());
            tokio::spawn(async move { (i, auth.reset_password(&token, &format!("new-{i}")).await) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (i, Ok(_)) => winners.push(i),
            (_, Err(Error::InvalidToken)) => {}
            (_, Err(other)) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    auth.use_key("email", &email, Some(&format!("new-{}", winners[0]))).await.unwrap();
}

pub async fn expired_tokens_are_swept<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (ada, email) = email_user(&auth, "ada").await;
    let (bob, _) = email_user(&auth, "bob").await;
    auth.issue_email_verification(&ada).await.unwrap();
    auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    t.set_now(t.now() + 16 * MINUTE);
    auth.issue_email_verification(&bob).await.unwrap();
    assert_eq!(auth.delete_expired_tokens().await.unwrap(), 1, "the code expired; the link has 44 minutes left");
    assert_eq!(t.adapter().get_user_token(&ada, TokenKind::EmailVerification).await.unwrap(), None);
    assert!(t.adapter().get_user_token(&ada, TokenKind::PasswordReset).await.unwrap().is_some());
    assert!(t.adapter().get_user_token(&bob, TokenKind::EmailVerification).await.unwrap().is_some());
}

pub async fn deleting_a_user_with_tokens_removes_them<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, email) = email_user(&auth, "ada").await;
    auth.issue_email_verification(&user_id).await.unwrap();
    let reset = auth.request_password_reset(&email).await.unwrap().issue().await.unwrap().unwrap();
    auth.delete_user(&user_id).await.unwrap();
    assert_eq!(t.adapter().get_user_token(&user_id, TokenKind::EmailVerification).await.unwrap(), None);
    assert_err!(auth.reset_password(reset.token(), "new").await, Error::InvalidToken);
}

pub async fn bad_input_is_a_typed_error<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: TokenAdapter>,
{
    let auth = auth(t);
    let (user_id, _) = email_user(&auth, "ada").await;
    let no_email = new_user(&auth, "bob").await;
    assert_err!(auth.issue_email_verification("nobody").await, Error::InvalidUserId);
    assert_err!(auth.issue_email_verification("bad\0id").await, Error::InvalidUserId);
    assert_err!(auth.issue_email_verification(&no_email).await, Error::InvalidAttributes(_));
    assert_err!(auth.verify_email("nobody", "12345678").await, Error::InvalidToken);
    assert_err!(auth.verify_email("bad\0id", "12345678").await, Error::InvalidUserId);
    auth.issue_email_verification(&user_id).await.unwrap();
    for code in ["", "1234567", &"9".repeat(10_000), "1234\u{0}5678", "ünïcödé"] {
        assert_err!(auth.verify_email(&user_id, code).await, Error::InvalidToken);
    }
    for link in ["", &"a".repeat(10_000), "\0", "%%%"] {
        assert_err!(auth.reset_password(link, "new").await, Error::InvalidToken);
    }
    assert_err!(auth.change_email("nobody", "x@example.com").await, Error::InvalidUserId);
}
