//! The second factor over a [`SecondFactorAdapter`]: TOTP enrolment, confirmation, codes
//! single-use per step, recovery codes, the two-step sign-in whose pending credential is no
//! session (in both token modes), throttling, and secrets sealed to their user. Expanded by
//! `second_factor_behaviour_tests!` for stores that hold second factors.

use lucia::{
    Adapter, Error, SecondFactorAdapter, SecondFactorCode, SecondFactorSettings, SessionTokens, SignIn,
    TestAuthenticator, TokenAdapter, TokenKind, TotpEncryptionKey,
};

use lucia_adapter_test::TestDatabase;

use super::{Auth, Ctx, Fixture, assert_err, new_user_with_password, token, xx};

const MINUTE: i64 = 60_000;

fn settings() -> SecondFactorSettings {
    SecondFactorSettings::new("Lucia Test", TotpEncryptionKey::from_bytes([9; 32]))
}

fn auth<F>(t: &Ctx<F>) -> Auth<F::Adapter>
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    t.builder(t.adapter()).second_factor(settings()).build()
}

/// The authenticator's code at the test clock, `steps` 30-second steps away.
fn code_at<F: Fixture>(t: &Ctx<F>, app: &TestAuthenticator, steps: i64) -> String {
    app.code_at(u64::try_from(t.now() / 1000 + steps * 30).unwrap())
}

fn totp(code: String) -> SecondFactorCode {
    SecondFactorCode::Totp(code)
}

/// A user `name` with password `pw` and a confirmed TOTP; returns its id, its app and its
/// recovery codes. The clock moves on a step, so that the confirming code is spent.
async fn enrolled<F>(t: &Ctx<F>, auth: &Auth<F::Adapter>, name: &str) -> (String, TestAuthenticator, Vec<String>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let user_id = new_user_with_password(auth, name, "pw").await;
    let enrolment = auth.enrol_totp(&user_id, &format!("{name}@example.com")).await.unwrap();
    let app = enrolment.authenticator_for_tests();
    let codes = auth.confirm_totp(&user_id, &code_at(t, &app, 0)).await.unwrap();
    t.set_now(t.now() + 30_000);
    (user_id, app, codes.codes().to_vec())
}

/// A pending sign-in of `name`'s password.
async fn pending<A: Adapter + SecondFactorAdapter>(auth: &Auth<A>, name: &str) -> lucia::PendingSignIn {
    match auth.sign_in_with_second_factor("email", &format!("{name}@example.com"), Some("pw"), xx()).await.unwrap() {
        SignIn::SecondFactorRequired(pending) => pending,
        SignIn::SignedIn(_) => panic!("a user with a confirmed TOTP was signed in by a password alone"),
    }
}

pub async fn enrol_confirm_and_sign_in_in_two_steps<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let user_id = new_user_with_password(&auth, "ada", "pw").await;
    let enrolment = auth.enrol_totp(&user_id, "ada@example.com").await.unwrap();
    let secret = enrolment.secret_base32().to_owned();
    assert!(
        enrolment.uri().starts_with("otpauth://totp/Lucia%20Test:ada%40example.com?secret="),
        "{}",
        enrolment.uri()
    );
    assert!(enrolment.uri().contains(&secret) && enrolment.uri().contains("issuer=Lucia%20Test"));
    assert!(enrolment.qr_svg().contains("<svg"));
    assert!(!format!("{enrolment:?}").contains(&secret), "Debug hides the secret");
    // Stored encrypted, unconfirmed: until confirmed, the password alone still signs in.
    let row = t.adapter().get_totp(&user_id).await.unwrap().unwrap();
    assert!(!row.confirmed && !row.encrypted_secret.contains(&secret));
    assert!(!auth.has_second_factor(&user_id).await.unwrap());
    auth.sign_in("email", "ada@example.com", Some("pw"), xx()).await.unwrap();

    let app = enrolment.authenticator_for_tests();
    let right = code_at(t, &app, 0);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    assert_err!(auth.confirm_totp(&user_id, wrong).await, Error::InvalidSecondFactor);
    assert!(!auth.has_second_factor(&user_id).await.unwrap());
    let recovery = auth.confirm_totp(&user_id, &right).await.unwrap();
    assert_eq!(recovery.codes().len(), 10);
    assert!(auth.has_second_factor(&user_id).await.unwrap());
    assert_eq!(auth.recovery_codes_left(&user_id).await.unwrap(), 10);
    assert_err!(auth.confirm_totp(&user_id, &right).await, Error::InvalidSecondFactor);
    assert_err!(auth.enrol_totp(&user_id, "again").await, Error::SecondFactorAlreadyEnabled);

    // A password alone no longer yields a session, and writes none.
    let sessions_before = t.sessions_of(&user_id).await.len();
    assert_err!(auth.sign_in("email", "ada@example.com", Some("pw"), xx()).await, Error::SecondFactorRequired);
    // ... but a wrong password still says only that.
    assert_err!(auth.sign_in("email", "ada@example.com", Some("no"), xx()).await, Error::InvalidPassword);
    let pending = pending(&auth, "ada").await;
    assert_eq!(pending.user_id, user_id);
    assert_eq!(t.sessions_of(&user_id).await.len(), sessions_before, "no session row for the pending step");
    assert!(!format!("{pending:?}").contains(pending.token()));
    // The pending credential authenticates nothing.
    assert_err!(auth.validate_session(pending.token()).await, Error::InvalidSessionId);
    assert_err!(auth.get_session(pending.token()).await, Error::InvalidSessionId);
    let row = t.adapter().get_user_token(&user_id, TokenKind::SecondFactor).await.unwrap().unwrap();
    assert_eq!(row.id, SessionTokens::Hashed.stored_id(pending.token()), "stored as its SHA-256");
    assert_eq!(row.expires, t.now() + 10 * MINUTE);

    // The next step's code (the confirming one is spent) completes it, into a new token.
    t.set_now(t.now() + 30_000);
    let session = auth.complete_sign_in(pending.token(), &totp(code_at(t, &app, 0)), xx()).await.unwrap();
    assert_ne!(token(&session), pending.token());
    assert_eq!(auth.validate_session(token(&session)).await.unwrap().user.user_id, user_id);
    assert_eq!(t.sessions_of(&user_id).await.len(), sessions_before + 1);
    // Single use.
    t.set_now(t.now() + 30_000);
    assert_err!(auth.complete_sign_in(pending.token(), &totp(code_at(t, &app, 0)), xx()).await, Error::InvalidToken);
    assert_err!(auth.validate_session(pending.token()).await, Error::InvalidSessionId);
}

/// In Lucia v2 compatible mode (session ids in clear, readable by a Node application), the
/// pending credential is in no session row at all, under any form.
pub async fn a_pending_sign_in_is_no_session_in_compat_mode<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let compat = t.builder(t.adapter()).lucia_v2_compat().second_factor(settings()).build();
    let (user_id, app, _) = enrolled(t, &compat, "ada").await;
    let pending = pending(&compat, "ada").await;
    for row in t.db().sessions().await {
        assert_ne!(row.id, pending.token());
        assert_ne!(row.id, SessionTokens::Hashed.stored_id(pending.token()));
    }
    assert_err!(compat.validate_session(pending.token()).await, Error::InvalidSessionId);
    let hashed = auth(t);
    assert_err!(hashed.validate_session(pending.token()).await, Error::InvalidSessionId);
    let session = compat.complete_sign_in(pending.token(), &totp(code_at(t, &app, 0)), xx()).await.unwrap();
    let rows = t.sessions_of(&user_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, token(&session), "the full session is stored as Lucia v2 stores it");
}

pub async fn totp_codes_are_single_use_within_a_window_of_one_step<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (user_id, app, _) = enrolled(t, &auth, "ada").await;
    // The confirming code's step is one step back: it stays spent.
    assert_err!(auth.verify_second_factor(&user_id, &totp(code_at(t, &app, -1))).await, Error::InvalidSecondFactor);
    t.set_now(t.now() + 30_000);
    // Two steps away is out of the window, early or late.
    assert_err!(auth.verify_second_factor(&user_id, &totp(code_at(t, &app, 2))).await, Error::InvalidSecondFactor);
    assert_err!(auth.verify_second_factor(&user_id, &totp(code_at(t, &app, -2))).await, Error::InvalidSecondFactor);
    // One step early is in; then the same code, and any code of that step or before, is out.
    let early = code_at(t, &app, -1);
    auth.verify_second_factor(&user_id, &totp(early.clone())).await.unwrap();
    assert_err!(auth.verify_second_factor(&user_id, &totp(early)).await, Error::InvalidSecondFactor);
    let now = code_at(t, &app, 0);
    auth.verify_second_factor(&user_id, &totp(now.clone())).await.unwrap();
    assert_err!(auth.verify_second_factor(&user_id, &totp(now)).await, Error::InvalidSecondFactor);
    // One step late works once too; after it, the current step's code is a replay.
    let late = code_at(t, &app, 1);
    auth.verify_second_factor(&user_id, &totp(late)).await.unwrap();
    t.set_now(t.now() + 30_000);
    assert_err!(auth.verify_second_factor(&user_id, &totp(code_at(t, &app, 0))).await, Error::InvalidSecondFactor);
    t.set_now(t.now() + 30_000);
    auth.verify_second_factor(&user_id, &totp(format!(" {} ", code_at(t, &app, 0)))).await.unwrap();
    // Not digits, or not six of them.
    for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
        assert_err!(auth.verify_second_factor(&user_id, &totp(bad.into())).await, Error::InvalidSecondFactor);
    }
}

pub async fn recovery_codes_are_single_use_and_regeneration_voids_the_old_set<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (user_id, app, codes) = enrolled(t, &auth, "ada").await;
    let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    let recovery = |code: &str| SecondFactorCode::Recovery(code.to_owned());
    // Dashes, spaces and case do not matter.
    let typed = codes[0].to_uppercase().replace('-', " ");
    auth.verify_second_factor(&user_id, &recovery(&typed)).await.unwrap();
    assert_err!(auth.verify_second_factor(&user_id, &recovery(&codes[0])).await, Error::InvalidSecondFactor);
    assert_eq!(auth.recovery_codes_left(&user_id).await.unwrap(), 9);
    assert_err!(auth.verify_second_factor(&user_id, &recovery("not-a-code")).await, Error::InvalidSecondFactor);

    let new = auth.regenerate_recovery_codes(&user_id, &totp(code_at(t, &app, 0))).await.unwrap();
    assert_eq!(auth.recovery_codes_left(&user_id).await.unwrap(), 10);
    assert_err!(auth.verify_second_factor(&user_id, &recovery(&codes[1])).await, Error::InvalidSecondFactor);
    auth.verify_second_factor(&user_id, &recovery(&new.codes()[1])).await.unwrap();
    // A recovery code completes a sign-in, too.
    let pending = pending(&auth, "ada").await;
    auth.complete_sign_in(pending.token(), &SecondFactorCode::from_input(&new.codes()[2]), xx()).await.unwrap();
    assert_eq!(auth.recovery_codes_left(&user_id).await.unwrap(), 8);
}

pub async fn second_factor_attempts_are_throttled_per_user<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (user_id, app, codes) = enrolled(t, &auth, "ada").await;
    let right = code_at(t, &app, 0);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_err!(auth.verify_second_factor(&user_id, &totp(wrong.into())).await, Error::InvalidSecondFactor);
    }
    // The sixth try must wait, right or not, TOTP or recovery code: nothing is checked or used.
    assert_err!(auth.verify_second_factor(&user_id, &totp(right.clone())).await, Error::Throttled { .. });
    let code = SecondFactorCode::Recovery(codes[0].clone());
    assert_err!(auth.verify_second_factor(&user_id, &code).await, Error::Throttled { .. });
    assert_eq!(auth.recovery_codes_left(&user_id).await.unwrap(), 10);
    // Other users are not held up.
    let (bob, bob_app, _) = enrolled(t, &auth, "bob").await;
    auth.verify_second_factor(&bob, &totp(code_at(t, &bob_app, 0))).await.unwrap();
    // After the wait, the right code works and clears the count.
    t.set_now(t.now() + 1_000);
    auth.verify_second_factor(&user_id, &totp(code_at(t, &app, 0))).await.unwrap();
    for _ in 0..5 {
        assert_err!(auth.verify_second_factor(&user_id, &totp(wrong.into())).await, Error::InvalidSecondFactor);
    }
}

pub async fn pending_sign_ins_expire_and_are_limited_in_tries<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (_, app, _) = enrolled(t, &auth, "ada").await;
    let first = pending(&auth, "ada").await;
    t.set_now(t.now() + 10 * MINUTE + 1);
    assert_err!(auth.complete_sign_in(first.token(), &totp(code_at(t, &app, 0)), xx()).await, Error::ExpiredToken);

    // Five tries per pending sign-in; the sixth fails even with the right code.
    let auth =
        t.builder(t.adapter()).second_factor(settings().backoff(lucia::Backoff::default().free_attempts(20))).build();
    let second = pending(&auth, "ada").await;
    let right = code_at(t, &app, 0);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_err!(auth.complete_sign_in(second.token(), &totp(wrong.into()), xx()).await, Error::InvalidSecondFactor);
    }
    assert_err!(auth.complete_sign_in(second.token(), &totp(right.clone()), xx()).await, Error::ExpiredToken);
    assert_err!(auth.complete_sign_in(second.token(), &totp(right), xx()).await, Error::InvalidToken);
    // A new pending sign-in replaces an older one.
    let third = pending(&auth, "ada").await;
    let fourth = pending(&auth, "ada").await;
    assert_err!(auth.complete_sign_in(third.token(), &totp(code_at(t, &app, 0)), xx()).await, Error::InvalidToken);
    auth.complete_sign_in(fourth.token(), &totp(code_at(t, &app, 0)), xx()).await.unwrap();
    // Malformed tokens are refused before the store.
    assert_err!(auth.complete_sign_in("", &totp(code_at(t, &app, 1)), xx()).await, Error::InvalidToken);
    assert_err!(auth.complete_sign_in(&"a".repeat(4096), &totp(code_at(t, &app, 1)), xx()).await, Error::InvalidToken);
}

pub async fn concurrent_completions_of_one_pending_sign_in_have_one_winner<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (user_id, app, _) = enrolled(t, &auth, "ada").await;
    let pending = pending(&auth, "ada").await;
    let code = code_at(t, &app, 0);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (auth, token, code) = (auth.clone(), pending.token().to_owned(), code.clone());
            tokio::spawn(async move { auth.complete_sign_in(&token, &totp(code), xx()).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(Error::InvalidSecondFactor | Error::InvalidToken) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(t.sessions_of(&user_id).await.len(), 1);
}

/// A sealed secret copied into another user's row does not decrypt there (the user id is the
/// associated data), and a key other than the one that sealed it opens nothing.
pub async fn secrets_are_sealed_to_their_user_and_key<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (ada, app, _) = enrolled(t, &auth, "ada").await;
    let (bob, _, _) = enrolled(t, &auth, "bob").await;
    let mut copied = t.adapter().get_totp(&ada).await.unwrap().unwrap();
    copied.user_id = bob.clone();
    t.adapter().set_totp(copied).await.unwrap();
    assert_err!(auth.verify_second_factor(&bob, &totp(code_at(t, &app, 0))).await, Error::InvalidSecondFactor);
    let other_key = SecondFactorSettings::new("Lucia Test", TotpEncryptionKey::from_bytes([8; 32]));
    let other = t.builder(t.adapter()).second_factor(other_key).build();
    assert_err!(other.verify_second_factor(&ada, &totp(code_at(t, &app, 0))).await, Error::InvalidSecondFactor);
    auth.verify_second_factor(&ada, &totp(code_at(t, &app, 0))).await.unwrap();
}

pub async fn disabling_needs_a_code_and_restores_password_sign_in<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (user_id, app, _) = enrolled(t, &auth, "ada").await;
    assert_err!(
        auth.disable_totp(&user_id, &totp("000000".into())).await,
        Error::InvalidSecondFactor | Error::Throttled { .. }
    );
    assert!(auth.has_second_factor(&user_id).await.unwrap());
    auth.disable_totp(&user_id, &totp(code_at(t, &app, 0))).await.unwrap();
    assert!(!auth.has_second_factor(&user_id).await.unwrap());
    assert_eq!(auth.recovery_codes_left(&user_id).await.unwrap(), 0);
    assert_eq!(t.adapter().get_totp(&user_id).await.unwrap(), None);
    assert!(matches!(
        auth.sign_in_with_second_factor("email", "ada@example.com", Some("pw"), xx()).await.unwrap(),
        SignIn::SignedIn(_)
    ));
    // And it can be enrolled again.
    auth.enrol_totp(&user_id, "ada@example.com").await.unwrap();
}

pub async fn deleting_a_user_removes_its_second_factor<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter>,
{
    let auth = auth(t);
    let (user_id, _, _) = enrolled(t, &auth, "ada").await;
    let _pending = pending(&auth, "ada").await;
    auth.delete_user(&user_id).await.unwrap();
    assert_eq!(t.adapter().get_totp(&user_id).await.unwrap(), None);
    assert_eq!(t.adapter().count_recovery_codes(&user_id).await.unwrap(), 0);
    assert_eq!(t.adapter().get_user_token(&user_id, TokenKind::SecondFactor).await.unwrap(), None);
}

pub async fn without_settings_second_factor_methods_are_a_typed_error<F>(t: &Ctx<F>)
where
    F: Fixture<Adapter: SecondFactorAdapter + TokenAdapter>,
{
    let plain = t.builder(t.adapter()).build();
    let user_id = new_user_with_password(&plain, "ada", "pw").await;
    assert_err!(plain.enrol_totp(&user_id, "ada").await, Error::SecondFactorNotConfigured);
    assert_err!(plain.confirm_totp(&user_id, "123456").await, Error::SecondFactorNotConfigured);
    assert_err!(
        plain.sign_in_with_second_factor("email", "ada@example.com", Some("pw"), xx()).await,
        Error::SecondFactorNotConfigured
    );
    assert_err!(
        plain.complete_sign_in(&"a".repeat(40), &totp("123456".into()), xx()).await,
        Error::SecondFactorNotConfigured
    );
}
