//! Passkeys: lucia-axum's JSON routes to add one and to sign in with one (driven by
//! `passkeys.js`), and the account page's forms to rename and remove them, which work without
//! JavaScript.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::{Form, Router};
use lucia::PasskeyAdapter;
use lucia_axum::RecentSignIn;
use lucia_axum::passkey::PasskeyRoutes;
use lucia_axum::passkey::lucia_passkey::{PasskeyError, Passkeys, RelyingParty};
use serde::Deserialize;

use crate::accounts::{self, Client};
use crate::web::{PageResult, SignInOptions, account_page};
use crate::{AppState, Auth, DemoAdapter, SessionAttributes, SignedIn, UserAttributes, html};

/// The demo's passkey ceremonies.
pub type DemoPasskeys = Passkeys<DemoAdapter, UserAttributes, SessionAttributes>;

/// What [`routes`] makes.
pub struct PasskeySetup {
    /// The passkey ceremonies.
    pub passkeys: DemoPasskeys,
    /// The routes' check of a recent sign-in, which the account page's passkey removal and
    /// account deletion use too.
    pub recent_sign_in: RecentSignIn<Auth>,
    /// The JSON routes.
    pub routes: Router<AppState>,
}

/// The passkeys of `auth`'s users for this relying party, and their JSON routes. Sessions a
/// passkey starts record the client as password sign-ins do; adding or removing a passkey
/// needs a sign-in of the last ten minutes (the session's `created_at`), so that a stolen
/// session can neither add one nor take the owner's away.
pub fn routes(auth: &Auth, rp_id: &str, origin: url::Url) -> Result<PasskeySetup, PasskeyError> {
    let relying_party = RelyingParty::new(rp_id, origin).name(crate::second_factor::ISSUER);
    // The `email:` key finds a user for a reset but signs no one in: a passkey is not removed
    // when only that would be left.
    let passkeys = Passkeys::new(auth.clone(), relying_party)?.uncounted_key_providers([accounts::EMAIL_PROVIDER]);
    // What the authenticator shows for the account: the username, twice (the demo has no
    // display name).
    let routes = PasskeyRoutes::<Auth>::new(
        passkeys.clone(),
        |user| (user.attributes.username.clone(), user.attributes.username.clone()),
        // Every way of signing in starts a new session stamped with its time: a session's
        // start is its sign-in.
        |session| session.attributes.created_at,
    )
    .session_attributes(|parts| Client::from_parts(parts).session_attributes());
    Ok(PasskeySetup { passkeys, recent_sign_in: routes.recent_sign_in(), routes: routes.router() })
}

/// Deletes the passkey ceremonies that expired unfinished, now and every `period`.
pub async fn sweep_ceremonies(passkeys: DemoPasskeys, period: std::time::Duration) {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        match passkeys.delete_expired_ceremonies().await {
            Ok(deleted) => tracing::debug!(deleted, "swept abandoned passkey ceremonies"),
            Err(error) => tracing::warn!(%error, "could not sweep abandoned passkey ceremonies"),
        }
    }
}

/// The user's passkeys as the account page lists them, oldest first.
pub async fn rows(auth: &Auth, user_id: &str) -> Result<Vec<html::PasskeyRow>, lucia::Error> {
    let passkeys = auth.adapter().get_user_passkeys(user_id).await.map_err(lucia::Error::from)?;
    Ok(passkeys
        .into_iter()
        .map(|p| html::PasskeyRow::new(p.id, p.name, p.backup_state, p.created_at, p.last_used_at))
        .collect())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RenameForm {
    /// The passkey's credential id, from the account page.
    id: String,
    name: String,
}

/// "Rename": a passkey of the user's gets a new name (trimmed, at most 64 characters).
pub async fn rename(
    SignedIn { session, auth, .. }: SignedIn,
    State(options): State<SignInOptions>,
    State(passkeys): State<DemoPasskeys>,
    Form(form): Form<RenameForm>,
) -> PageResult {
    match passkeys.rename(&session.user.user_id, &form.id, &form.name).await {
        Ok(()) => Ok(Redirect::to("/account?notice=passkey-renamed").into_response()),
        Err(error) => failure(&auth, &options, &session, error).await,
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RemoveForm {
    /// The passkey's credential id, from the account page.
    id: String,
}

/// "Remove": deletes a passkey of the user's if the session signed in within the last ten
/// minutes (else `403`: a stolen session cookie must not take the owner's passkeys away),
/// unless it is their last way to sign in (then the account page says so, `409`): the
/// library counts the user's keys but the `email:` key, and passkeys, and deletes in one
/// transaction under the user's lock, so two removals at once (of passkeys or keys) cannot
/// both pass.
pub async fn remove(
    SignedIn { session, auth, .. }: SignedIn,
    State(options): State<SignInOptions>,
    State(passkeys): State<DemoPasskeys>,
    Form(form): Form<RemoveForm>,
) -> PageResult {
    if !options.recent_sign_in.is_recent(auth.lucia(), &session) {
        let error = Some("To remove a passkey, sign in again first: removing one needs a recent sign-in.");
        return account_page(&auth, &options, &session, StatusCode::FORBIDDEN, None, error, None).await;
    }
    let user_id = &session.user.user_id;
    match passkeys.remove(user_id, &form.id).await {
        Ok(()) => {
            tracing::info!(%user_id, "passkey removed");
            Ok(Redirect::to("/account?notice=passkey-removed").into_response())
        }
        Err(error) => failure(&auth, &options, &session, error).await,
    }
}

/// The account page with a rename's or removal's failure in words.
async fn failure(
    auth: &crate::AuthRequest,
    options: &SignInOptions,
    session: &lucia::Session<UserAttributes, SessionAttributes>,
    error: PasskeyError,
) -> PageResult {
    let (status, message) = match error {
        PasskeyError::LastSignInMethod => (
            StatusCode::CONFLICT,
            "This passkey is your only way to sign in. Add another passkey or a sign-in method before removing it.",
        ),
        PasskeyError::NotFound => (StatusCode::NOT_FOUND, "That passkey is not on your account."),
        PasskeyError::Lucia(error) => return Err(error.into()),
        error => {
            tracing::error!(%error, "passkey operation failed");
            return Err(lucia::Error::Database("passkey operation failed".into()).into());
        }
    };
    account_page(auth, options, session, status, None, Some(message), None).await
}
