//! Server-rendered pages: askama templates in `templates/`, plain semantic HTML, every field
//! labelled, errors announced. askama escapes every value for HTML.
//!
//! Every page extends `base.html`, so every page's struct has `signed_in` (the username the
//! navigation shows, if any); a page with a `notice` or a form `error` shows it through the
//! shared `notice.html` and `alert.html`.

use std::time::Duration;

use askama::Template;
use lucia::Session;

use crate::oauth::{Method, ProviderLink};
use crate::{SessionAttributes, UserAttributes};

#[derive(Template)]
#[template(path = "home.html")]
pub struct Home<'a> {
    pub signed_in: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
pub struct NotFound<'a> {
    pub signed_in: Option<&'a str>,
}

/// A failure shown as a page, with the status's reason as its title.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub signed_in: Option<&'a str>,
    pub title: &'a str,
    pub message: &'a str,
}

/// Sign-up and sign-in share their fields. On sign-up the rules are shown and tied to the
/// fields; an error is tied to both fields, which are then marked invalid, and an error about
/// the password alone (`password_error`: the password policy's sentence) is shown under the
/// password field and tied to it only.
#[derive(Template)]
#[template(path = "credentials.html")]
pub struct Credentials<'a> {
    /// Always `None`: these pages send a signed-in user to the account page.
    signed_in: Option<&'a str>,
    signup: bool,
    notice: Option<&'a str>,
    /// The username typed, shown again after a failure.
    username: &'a str,
    /// The address typed (sign-up), shown again after a failure.
    email: &'a str,
    error: Option<&'a str>,
    /// A failure about the address alone, shown under its field.
    email_error: Option<&'a str>,
    password_error: Option<&'a str>,
    /// The providers to sign in with (sign-in only).
    providers: &'a [ProviderLink],
    /// The origin passkeys work at (the page's script compares it with its own).
    passkey_origin: &'a str,
}

/// What a sign-up form shows again after a failure: what was typed, and where the failure
/// goes (the form, the address field or the password field).
#[derive(Default)]
pub struct SignUpForm<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub email_error: Option<&'a str>,
    pub password_error: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    pub fn sign_up(form: SignUpForm<'a>) -> Self {
        let SignUpForm { username, email, error, email_error, password_error } = form;
        Self {
            signed_in: None,
            signup: true,
            notice: None,
            username,
            email,
            error,
            email_error,
            password_error,
            providers: &[],
            passkey_origin: "",
        }
    }

    pub fn sign_in(notice: Option<&'a str>, username: &'a str, error: Option<&'a str>) -> Self {
        Self {
            signed_in: None,
            signup: false,
            notice,
            username,
            email: "",
            error,
            email_error: None,
            password_error: None,
            providers: &[],
            passkey_origin: "",
        }
    }

    /// With a "Sign in with …" link per provider.
    pub fn with_providers(self, providers: &'a [ProviderLink]) -> Self {
        Self { providers, ..self }
    }

    /// With "Sign in with a passkey", for passkeys of `origin`.
    pub fn with_passkeys(self, origin: &'a str) -> Self {
        Self { passkey_origin: origin, ..self }
    }

    fn username_described_by(&self) -> String {
        self.described_by("username-hint", None)
    }

    fn password_described_by(&self) -> String {
        self.described_by("password-hint", self.password_error.map(|_| "password-error"))
    }

    /// The ids for a field's `aria-describedby`: its rules (on sign-up), the form's error, its own.
    fn described_by(&self, hint: &str, own_error: Option<&str>) -> String {
        let ids: Vec<&str> =
            [self.signup.then_some(hint), self.error.map(|_| "form-error"), own_error].into_iter().flatten().collect();
        ids.join(" ")
    }
}

/// "Verify your email": the code form for a signed-in user whose address is not verified yet.
#[derive(Template)]
#[template(path = "verify_email.html")]
pub struct VerifyEmail<'a> {
    pub signed_in: Option<&'a str>,
    pub email: &'a str,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    /// Where the mail went, with no mail server configured.
    pub mail_folder: Option<String>,
}

/// "Forgot your password?": the address form, then (`sent`) the same answer for every address.
#[derive(Template)]
#[template(path = "forgot_password.html")]
pub struct ForgotPassword<'a> {
    pub signed_in: Option<&'a str>,
    pub email: &'a str,
    pub sent: bool,
    pub error: Option<&'a str>,
    pub mail_folder: Option<String>,
}

/// The page a reset link opens: a new password for the link's token (kept in a hidden field).
#[derive(Template)]
#[template(path = "reset_password.html")]
pub struct ResetPassword<'a> {
    pub signed_in: Option<&'a str>,
    pub token: &'a str,
    pub error: Option<&'a str>,
    pub password_error: Option<&'a str>,
}

/// The account page: live sessions with their device, address and start time (this device
/// first), password change and account deletion.
#[derive(Template)]
#[template(path = "account.html")]
pub struct Account<'a> {
    signed_in: Option<&'a str>,
    username: &'a str,
    email: Option<&'a str>,
    email_verified: bool,
    user_id: &'a str,
    sessions: Vec<SessionRow<'a>>,
    /// Sessions other than this device's.
    others: usize,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    /// The new password's rejection, shown under its field.
    password_error: Option<&'a str>,
    /// The user's ways to sign in.
    methods: &'a [Method],
    /// The providers a method can be linked from.
    providers: &'a [ProviderLink],
    /// Whether the user has a password (the password form needs it, and deleting the account
    /// asks for it).
    has_password: bool,
    /// How long ago this session signed in, in words ("3 minutes ago"), if known.
    signed_in_ago: Option<String>,
    /// Whether that was recent enough to delete the account without a password.
    recently_signed_in: bool,
    /// How recent a sign-in must be, in minutes.
    reauthentication_minutes: u64,
    /// With an authenticator app set up, how many recovery codes are left.
    second_factor: Option<u64>,
    /// The user's passkeys, oldest first.
    passkeys: Vec<PasskeyRow>,
    /// The origin passkeys work at.
    passkey_origin: &'a str,
}

/// One passkey on the account page.
pub struct PasskeyRow {
    /// Its credential id (base64url), which the rename and remove forms send.
    id: String,
    name: String,
    /// Whether it is synced to the user's other devices (the backup state flag).
    synced: bool,
    created: String,
    last_used: String,
}

impl PasskeyRow {
    pub fn new(id: String, name: String, synced: bool, created_at: i64, last_used_at: Option<i64>) -> Self {
        Self {
            id,
            name,
            synced,
            created: format_time(created_at),
            last_used: last_used_at.map_or("never".to_owned(), format_time),
        }
    }
}

/// One session on the account page, named by its handle (which cannot sign in).
struct SessionRow<'a> {
    device: String,
    this_device: bool,
    ip: &'a str,
    started: String,
    handle: String,
}

impl<'a> Account<'a> {
    pub fn new(
        current: &'a Session<UserAttributes, SessionAttributes>,
        sessions: &'a [Session<UserAttributes, SessionAttributes>],
        notice: Option<&'a str>,
        error: Option<&'a str>,
        password_error: Option<&'a str>,
    ) -> Self {
        let sessions: Vec<SessionRow<'a>> = sessions
            .iter()
            .map(|session| {
                let attributes = &session.attributes;
                SessionRow {
                    device: attributes.user_agent.as_deref().map_or("Unknown device".to_owned(), describe_agent),
                    this_device: session.handle == current.handle,
                    ip: attributes.ip.as_deref().unwrap_or("unknown"),
                    started: attributes.created_at.map_or("unknown".to_owned(), format_time),
                    handle: session.handle.to_string(),
                }
            })
            .collect();
        let username = current.user.attributes.username.as_str();
        Self {
            signed_in: Some(username),
            username,
            email: current.user.attributes.email.as_deref(),
            email_verified: current.user.attributes.email_verified,
            user_id: &current.user.user_id,
            others: sessions.len().saturating_sub(1),
            sessions,
            notice,
            error,
            password_error,
            methods: &[],
            providers: &[],
            has_password: true,
            signed_in_ago: None,
            recently_signed_in: false,
            reauthentication_minutes: 0,
            second_factor: None,
            passkeys: Vec::new(),
            passkey_origin: "",
        }
    }

    /// With the user's passkeys, and the origin they work at.
    pub fn with_passkeys(self, passkeys: Vec<PasskeyRow>, origin: &'a str) -> Self {
        Self { passkeys, passkey_origin: origin, ..self }
    }

    /// With the authenticator app's state: `Some(recovery codes left)` when it is on.
    pub fn with_second_factor(self, second_factor: Option<u64>) -> Self {
        Self { second_factor, ..self }
    }

    /// With the user's sign-in methods, and the providers to link.
    pub fn with_methods(self, methods: &'a [Method], providers: &'a [ProviderLink]) -> Self {
        let has_password = methods.iter().any(Method::is_password);
        Self { methods, providers, has_password, ..self }
    }

    /// With how long ago this session signed in (`None`: unknown), whether that is recent
    /// enough to delete the account without a password, and how recent it must be (as
    /// `RecentSignIn` says).
    pub fn with_sign_in_age(self, since: Option<Duration>, recently_signed_in: bool, max_age: Duration) -> Self {
        let minutes = |age: Duration| age.as_secs() / 60;
        let signed_in_ago = since.map(|age| match minutes(age) {
            0 => "less than a minute ago".to_owned(),
            1 => "1 minute ago".to_owned(),
            n => format!("{n} minutes ago"),
        });
        Self { signed_in_ago, recently_signed_in, reauthentication_minutes: minutes(max_age), ..self }
    }
}

/// "Set up an authenticator app": the QR code and the secret (once, right after the
/// enrolment), and the form for the app's first code. Without them (a wrong first code), the
/// form again with "start again".
#[derive(Template)]
#[template(path = "totp_enrol.html")]
pub struct TotpEnrolment<'a> {
    signed_in: Option<&'a str>,
    /// The QR code as an SVG element (made by the library from the `otpauth://` URI: shapes
    /// only, no text from the user), labelled for screen readers.
    qr_svg: Option<String>,
    /// The secret in groups of four, for typing in.
    secret: Option<String>,
    error: Option<&'a str>,
}

impl<'a> TotpEnrolment<'a> {
    /// `enrolment`: the QR code's SVG document and the base32 secret.
    pub fn new(username: &'a str, enrolment: Option<(&str, &str)>, error: Option<&'a str>) -> Self {
        let (qr_svg, secret) = match enrolment {
            Some((svg, secret)) => (inline_svg(svg), Some(group_by_four(secret))),
            None => (None, None),
        };
        Self { signed_in: Some(username), qr_svg, secret, error }
    }
}

/// An SVG document as an element for an HTML page: from `<svg` on (no XML declaration), with
/// an accessible name. `None` if it has no `<svg` (the library makes none for a URI too long
/// for a QR code: the secret is typed in instead).
fn inline_svg(svg: &str) -> Option<String> {
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen("<svg", r#"<svg role="img" aria-label="QR code for your authenticator app""#, 1))
}

/// `ABCD EFGH IJKL ...`: easier to read and type.
fn group_by_four(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// A new set of recovery codes, shown this once (after the app's first code, or "New recovery
/// codes").
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodes<'a> {
    signed_in: Option<&'a str>,
    codes: &'a [String],
    /// Right after the app was set up (not a regeneration).
    first: bool,
}

impl<'a> RecoveryCodes<'a> {
    pub fn new(username: &'a str, codes: &'a [String], first: bool) -> Self {
        Self { signed_in: Some(username), codes, first }
    }
}

/// After a password reset, for an account with passkeys: they also sign in, and a stolen
/// session could have added one; a link to review them.
#[derive(Template)]
#[template(path = "password_reset.html")]
pub struct PasswordReset<'a> {
    pub signed_in: Option<&'a str>,
    pub passkeys: &'a [PasskeyRow],
}

/// The second step of a password sign-in: a code from the app, or a recovery code.
#[derive(Template)]
#[template(path = "second_step.html")]
pub struct SecondStep<'a> {
    pub signed_in: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// A short description of a browser from its `User-Agent`.
fn describe_agent(agent: &str) -> String {
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/", "curl/"]
        .iter()
        .find(|name| agent.contains(**name))
        .map_or("Browser", |name| match *name {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            "Safari/" => "Safari",
            _ => "curl",
        });
    let system = ["Windows", "Android", "iPhone", "Mac OS X", "Linux"]
        .iter()
        .find(|name| agent.contains(**name))
        .map_or("", |name| if *name == "Mac OS X" { "macOS" } else { name });
    if agent.len() < 8 && browser == "Browser" {
        return agent.chars().take(60).collect();
    }
    if system.is_empty() { browser.to_owned() } else { format!("{browser} on {system}") }
}

/// `2026-11-25 01:02 UTC` for milliseconds since the epoch.
fn format_time(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_agents() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_795_655_076_154), "2026-11-26 01:04 UTC");
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(describe_agent(chrome), "Chrome on Linux");
        assert_eq!(describe_agent("curl/8.5.0"), "curl");
    }

    #[test]
    fn qr_codes_inline_and_secrets_grouped() {
        let svg =
            r#"<?xml version="1.0" standalone="yes"?><svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0"/></svg>"#;
        let inline = inline_svg(svg).unwrap();
        assert!(
            inline.starts_with(r#"<svg role="img" aria-label="QR code for your authenticator app" xmlns="#),
            "{inline}"
        );
        assert_eq!(inline_svg(""), None);
        assert_eq!(group_by_four("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
