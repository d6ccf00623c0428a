//! Provider accounts onto Lucia keys ([`ProviderKeys`]), on the memory adapter.

mod keys {
    use lucia::memory::MemoryAdapter;
    use std::time::{SystemTime, UNIX_EPOCH};

    use lucia::{
        CreateUser, Lucia, NewKey, NoAttributes, SecondFactorCode, SecondFactorSettings, SignIn, TestAuthenticator,
        TotpEncryptionKey,
    };
    use lucia_oauth::{Error, ProviderKeys, ProviderUser, SignInCase};

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Profile {
        email: Option<String>,
        email_verified: bool,
    }

    type Auth = Lucia<MemoryAdapter, Profile, NoAttributes>;

    fn auth() -> Auth {
        Lucia::builder(MemoryAdapter::new()).user_attributes::<Profile>().build()
    }

    fn account(subject: &str, email: &str, verified: bool) -> ProviderUser {
        ProviderUser {
            provider_id: "oidc".into(),
            subject: subject.into(),
            email: Some(email.into()),
            email_verified: verified,
        }
    }

    fn profile(account: &ProviderUser) -> Profile {
        Profile { email: account.email.clone(), email_verified: account.email_verified }
    }

    /// A password user with the email key `email:<address>`.
    async fn password_user(auth: &Auth, email: &str, verified: bool) -> String {
        let key = NewKey::password("email", email, "correct horse battery staple");
        let attributes = Profile { email: Some(email.into()), email_verified: verified };
        auth.create_user(CreateUser::new(attributes).with_key(key)).await.unwrap().user_id
    }

    fn linking() -> ProviderKeys<Profile> {
        ProviderKeys::new().link_by_verified_email("email", |user: &Profile| user.email_verified)
    }

    #[tokio::test]
    async fn no_email_linking_by_default() {
        let auth = auth();
        let existing = password_user(&auth, "ada@example.com", true).await;
        let signed_in =
            ProviderKeys::new().sign_in(&auth, &account("1", "ada@example.com", true), profile, NoAttributes {}).await;
        let signed_in = signed_in.unwrap();
        assert_eq!(signed_in.case, SignInCase::NewUser);
        assert_ne!(signed_in.session.session.user.user_id, existing);
    }

    #[tokio::test]
    async fn links_by_email_when_both_sides_verified() {
        let auth = auth();
        let existing = password_user(&auth, "ada@example.com", true).await;
        // The provider's address in another case still names the lowercase email key.
        let signed_in =
            linking().sign_in(&auth, &account("1", "Ada@Example.com", true), profile, NoAttributes {}).await;
        let signed_in = signed_in.unwrap();
        assert_eq!(signed_in.case, SignInCase::LinkedByEmail);
        assert_eq!(signed_in.session.session.user.user_id, existing);
        assert_eq!(auth.get_key("oidc", "1").await.unwrap().user_id, existing);
        let again = linking().sign_in(&auth, &account("1", "ada@example.com", true), profile, NoAttributes {}).await;
        assert_eq!(again.unwrap().case, SignInCase::ExistingKey);
    }

    #[tokio::test]
    async fn no_linking_by_a_non_ascii_address_that_lowercases_onto_another() {
        // `\u{212A}` (KELVIN SIGN) lowercases to ASCII `k`: another mailbox, which an attacker
        // may hold and have verified at the provider, must not name `kate@example.com`'s key.
        let auth = auth();
        let kate = password_user(&auth, "kate@example.com", true).await;
        let lookalike = account("1", "\u{212A}ate@example.com", true);
        let signed_in = linking().sign_in(&auth, &lookalike, profile, NoAttributes {}).await.unwrap();
        assert_eq!(signed_in.case, SignInCase::NewUser);
        assert_ne!(signed_in.session.session.user.user_id, kate);
        assert!(auth.get_all_user_keys(&kate).await.unwrap().iter().all(|key| key.provider_id != "oidc"));
    }

    #[tokio::test]
    async fn no_linking_by_email_to_a_user_with_another_account_of_the_provider() {
        // Ada signed in with provider account 1; account 2 now has her (verified) address: it
        // changed hands at the provider, and account 2 must not get into Ada's account.
        let auth = auth();
        let ada = password_user(&auth, "ada@example.com", true).await;
        ProviderKeys::new().link(&auth, &ada, &account("1", "ada@example.com", true)).await.unwrap();
        let recycled = account("2", "ada@example.com", true);
        let signed_in = linking().sign_in(&auth, &recycled, profile, NoAttributes {}).await.unwrap();
        assert_eq!(signed_in.case, SignInCase::NewUser);
        assert_ne!(signed_in.session.session.user.user_id, ada);
        // Another provider's account with her address still links.
        let other = ProviderUser { provider_id: "other".into(), ..account("3", "ada@example.com", true) };
        let signed_in = linking().sign_in(&auth, &other, profile, NoAttributes {}).await.unwrap();
        assert_eq!((signed_in.case, signed_in.session.session.user.user_id), (SignInCase::LinkedByEmail, ada));
    }

    #[tokio::test]
    async fn no_linking_when_the_provider_did_not_verify() {
        let auth = auth();
        let existing = password_user(&auth, "ada@example.com", true).await;
        let signed_in =
            linking().sign_in(&auth, &account("1", "ada@example.com", false), profile, NoAttributes {}).await;
        let signed_in = signed_in.unwrap();
        assert_eq!(signed_in.case, SignInCase::NewUser);
        assert_ne!(signed_in.session.session.user.user_id, existing);
    }

    #[tokio::test]
    async fn no_linking_when_the_local_address_is_unverified() {
        // Pre-account takeover: someone signed up here first with another's address.
        let auth = auth();
        let squatter = password_user(&auth, "ada@example.com", false).await;
        let signed_in =
            linking().sign_in(&auth, &account("1", "ada@example.com", true), profile, NoAttributes {}).await;
        let signed_in = signed_in.unwrap();
        assert_eq!(signed_in.case, SignInCase::NewUser);
        assert_ne!(signed_in.session.session.user.user_id, squatter);
    }

    #[tokio::test]
    async fn link_to_the_signed_in_user() {
        let auth = auth();
        let ada = password_user(&auth, "ada@example.com", true).await;
        let grace = password_user(&auth, "grace@example.com", true).await;
        let keys = ProviderKeys::new();
        let key = keys.link(&auth, &ada, &account("1", "whatever@example.com", false)).await.unwrap();
        assert_eq!((key.user_id.as_str(), key.password_defined), (ada.as_str(), false));
        // Again for the same user: nothing changes.
        keys.link(&auth, &ada, &account("1", "whatever@example.com", false)).await.unwrap();
        let taken = keys.link(&auth, &grace, &account("1", "whatever@example.com", false)).await.unwrap_err();
        assert!(matches!(taken, Error::AccountTaken), "{taken:?}");
        let unknown = keys.link(&auth, "nobody", &account("2", "x@example.com", false)).await.unwrap_err();
        assert!(matches!(unknown, Error::Lucia(lucia::Error::InvalidUserId)), "{unknown:?}");
        let signed_in = keys.sign_in(&auth, &account("1", "x@example.com", true), profile, NoAttributes {}).await;
        let signed_in = signed_in.unwrap();
        assert_eq!((signed_in.case, signed_in.session.session.user.user_id), (SignInCase::ExistingKey, ada));
    }

    fn auth_with_second_factor() -> Auth {
        let settings = SecondFactorSettings::new("Example", TotpEncryptionKey::from_bytes([3; 32]));
        Lucia::builder(MemoryAdapter::new()).user_attributes::<Profile>().second_factor(settings).build()
    }

    fn now_seconds() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    /// Turns on a confirmed TOTP for `user_id`: its authenticator app.
    async fn enable_totp(auth: &Auth, user_id: &str) -> TestAuthenticator {
        let app = auth.enrol_totp(user_id, "ada@example.com").await.unwrap().authenticator_for_tests();
        let _ = auth.confirm_totp(user_id, &app.code_at(now_seconds())).await.unwrap();
        app
    }

    /// The pending sign-in of `outcome`, which must be one.
    fn pending(outcome: SignIn<Profile, NoAttributes>) -> lucia::PendingSignIn {
        match outcome {
            SignIn::SecondFactorRequired(pending) => pending,
            SignIn::SignedIn(new) => panic!("signed in without the second factor: {:?}", new.session.user.user_id),
        }
    }

    #[tokio::test]
    async fn a_user_with_totp_gets_the_second_step_and_a_new_user_a_session() {
        let auth = auth_with_second_factor();
        let keys = ProviderKeys::new();
        let ada = account("1", "ada@example.com", true);
        let first = keys.sign_in_with_second_factor(&auth, &ada, profile, NoAttributes {}).await.unwrap();
        assert_eq!(first.case, SignInCase::NewUser);
        let SignIn::SignedIn(new) = first.outcome else { panic!("a new user has no second factor") };
        let user_id = new.session.user.user_id;
        let app = enable_totp(&auth, &user_id).await;

        // The one-step sign-in fails closed; the two-step one pends, with no session.
        let refused = keys.sign_in(&auth, &ada, |_| unreachable!(), NoAttributes {}).await.unwrap_err();
        assert!(matches!(refused, Error::Lucia(lucia::Error::SecondFactorRequired)), "{refused:?}");
        let again = keys.sign_in_with_second_factor(&auth, &ada, |_| unreachable!(), NoAttributes {}).await.unwrap();
        assert_eq!(again.case, SignInCase::ExistingKey);
        let pending = pending(again.outcome);
        assert_eq!(pending.user_id, user_id);
        assert!(auth.get_all_user_sessions(&user_id).await.unwrap().len() == 1, "only the first sign-in's session");
        let code = SecondFactorCode::from_input(&app.code_at(now_seconds() + 30));
        let session = auth.complete_sign_in(pending.token(), &code, NoAttributes {}).await.unwrap();
        assert_eq!(session.session.user.user_id, user_id);
    }

    #[tokio::test]
    async fn linking_by_email_to_a_user_with_totp_gets_the_second_step() {
        let auth = auth_with_second_factor();
        let existing = password_user(&auth, "ada@example.com", true).await;
        enable_totp(&auth, &existing).await;
        let signed_in = linking()
            .sign_in_with_second_factor(&auth, &account("1", "ada@example.com", true), profile, NoAttributes {})
            .await
            .unwrap();
        assert_eq!(signed_in.case, SignInCase::LinkedByEmail);
        assert_eq!(pending(signed_in.outcome).user_id, existing);
        assert!(auth.get_all_user_sessions(&existing).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_two_step_sign_in_needs_second_factor_settings() {
        let refused = ProviderKeys::new()
            .sign_in_with_second_factor(&auth(), &account("1", "ada@example.com", true), profile, NoAttributes {})
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::Lucia(lucia::Error::SecondFactorNotConfigured)), "{refused:?}");
    }
}
