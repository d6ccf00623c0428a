//! Passkeys: lucia-axum's JSON routes to add one and to sign in with one (driven by
//! `passkeys.js`), and the account page's forms to rename and remove them, which work without
//! JavaScript.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Router};
use lucia::PasskeyAdapter;
use lucia_axum::passkey::PasskeyRoutes;
use lucia_axum::passkey::lucia_passkey::{PasskeyError, Passkeys, RelyingParty};
use serde::Deserialize;

use crate::accounts::Client;
use crate::oauth::{self, Providers};
use crate::web::{PageResult, SignInOptions, account_page};
use crate::{Auth, DemoAdapter, SessionAttributes, SignedIn, UserAttributes, html};

/// The demo's passkey ceremonies.
pub type DemoPasskeys = Passkeys<DemoAdapter, UserAttributes, SessionAttributes>;

/// The passkeys of `auth`'s users for this relying party, and their JSON routes. Sessions a
/// passkey starts record the client as password sign-ins do; adding a passkey needs a
/// sign-in of the last ten minutes (the session's `created_at`), so that a stolen session
/// cannot add one.
pub fn routes(auth: &Auth, rp_id: &str, origin: url::Url) -> Result<(DemoPasskeys, Router<Auth>), PasskeyError> {
    let relying_party = RelyingParty::new(rp_id, origin).name(crate::second_factor::ISSUER);
    let passkeys = Passkeys::new(auth.clone(), relying_party)?;
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
    Ok((passkeys, routes.router().layer(middleware::from_fn(removal_by_form_only))))
}

/// Refuses the routes' JSON `DELETE /passkeys/{id}` (`404`): passkeys are removed by the
/// account page's form, whose check also counts the `email:` key out (see [`remove`]); the
/// library's own check in the route counts it as a way to sign in.
async fn removal_by_form_only(request: Request, next: Next) -> Response {
    if request.method() == Method::DELETE {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
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

/// How many ways the user has to sign in: the password and provider keys (not the `email:`
/// key, which signs no one in), and the passkeys.
pub async fn sign_in_ways(auth: &Auth, user_id: &str, providers: &Providers) -> Result<usize, lucia::Error> {
    let methods = oauth::methods(auth, user_id, providers).await?;
    let passkeys = auth.adapter().get_user_passkeys(user_id).await.map_err(lucia::Error::from)?;
    Ok(methods.len() + passkeys.len())
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
    Extension(options): Extension<SignInOptions>,
    Extension(passkeys): Extension<DemoPasskeys>,
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

/// "Remove": deletes a passkey of the user's, unless it is their last way to sign in (then
/// the account page says so, `409`). The library refuses to delete the last of the user's keys
/// and passkeys in one transaction; the demo also refuses when only its `email:` key, which
/// signs no one in, would remain. Two removals at once can each see the other way still there
/// for that second check; the account page sends one at a time.
pub async fn remove(
    SignedIn { session, auth, .. }: SignedIn,
    Extension(options): Extension<SignInOptions>,
    Extension(passkeys): Extension<DemoPasskeys>,
    Form(form): Form<RemoveForm>,
) -> PageResult {
    let user_id = &session.user.user_id;
    if sign_in_ways(auth.lucia(), user_id, &options.providers).await? < 2 {
        return failure(&auth, &options, &session, PasskeyError::LastSignInMethod).await;
    }
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
