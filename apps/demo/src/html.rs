//! Server-rendered pages: plain semantic HTML, every field labelled, errors announced.

use std::fmt::Write as _;

use lucia::Session;

use crate::{SessionAttributes, UserAttributes};

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page frame: title, navigation (depending on who is signed in), main content.
pub fn page(title: &str, username: Option<&str>, content: &str) -> String {
    let nav = match username {
        Some(name) => format!(
            r#"<span>Signed in as <strong>{}</strong></span><a href="/account">Account</a>
<form method="post" action="/logout"><button type="submit" class="link">Sign out</button></form>"#,
            escape(name)
        ),
        None => r#"<a href="/login">Sign in</a><a href="/signup">Sign up</a>"#.to_owned(),
    };
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · lucia-rs demo</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Main"><a class="brand" href="/">lucia-rs demo</a>{nav}</nav></header>
<main id="main">
{content}
</main>
</body>
</html>
"##,
        title = escape(title)
    )
}

/// A status message, announced politely by screen readers; empty without one.
pub fn notice(message: Option<&str>) -> String {
    message.map(|m| format!(r#"<p class="notice" role="status">{}</p>"#, escape(m))).unwrap_or_default()
}

fn alert(error: Option<&str>) -> String {
    error.map(|e| format!(r#"<p class="error" role="alert" id="form-error">{}</p>"#, escape(e))).unwrap_or_default()
}

/// An error about the password, shown under its field (`id` for `aria-describedby`).
fn field_error(id: &str, error: Option<&str>) -> String {
    error.map(|e| format!(r#"<p class="error" role="alert" id="{id}">{}</p>"#, escape(e))).unwrap_or_default()
}

/// Sign-up and sign-in forms share their fields. On sign-up the rules are shown and tied to
/// the fields; an error is tied to both fields, which are then marked invalid, and an error
/// about the password alone (`password_error`: the password policy's sentence) is shown under
/// the password field and tied to it only.
pub fn credentials_form(
    action: &str,
    heading: &str,
    button: &str,
    username: &str,
    error: Option<&str>,
    password_error: Option<&str>,
) -> String {
    let signup = action == "/signup";
    let describe = |hint: &str, field_error: Option<&str>| {
        let ids: Vec<&str> =
            [signup.then_some(hint), error.map(|_| "form-error"), field_error].into_iter().flatten().collect();
        let invalid = if error.is_some() || field_error.is_some() { r#" aria-invalid="true""# } else { "" };
        if ids.is_empty() { String::new() } else { format!(r#" aria-describedby="{}"{invalid}"#, ids.join(" ")) }
    };
    let (username_rules, password_rules, autocomplete, other) = if signup {
        (
            r#" minlength="3" maxlength="32""#,
            r#"<p class="hint" id="password-hint">At least 8 characters, and hard to guess: a few unrelated words work well.</p>"#,
            "new-password",
            r#"<p>Already have an account? <a href="/login">Sign in</a>.</p>"#,
        )
    } else {
        ("", "", "current-password", r#"<p>New here? <a href="/signup">Create an account</a>.</p>"#)
    };
    let username_hint =
        if signup { r#"<p class="hint" id="username-hint">3 to 32 letters, digits, or . _ - @ +</p>"# } else { "" };
    format!(
        r#"<h1>{heading}</h1>
<form class="card" method="post" action="{action}">
{alert}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{username}" required{username_rules} autocomplete="username" autocapitalize="none" spellcheck="false"{username_described}>
{username_hint}
<label for="password">Password</label>
<input type="password" id="password" name="password" required autocomplete="{autocomplete}"{password_described}>
{password_error}{password_rules}
<button type="submit">{button}</button>
</form>
{other}"#,
        alert = alert(error),
        username = escape(username),
        username_described = describe("username-hint", None),
        password_described = describe("password-hint", password_error.map(|_| "password-error")),
        password_error = field_error("password-error", password_error),
    )
}

pub fn home(username: Option<&str>, notice: Option<&str>) -> String {
    let notice = self::notice(notice);
    let body = match username {
        Some(name) => format!(r#"<p>Welcome back, {}. <a href="/account">Go to your account</a>.</p>"#, escape(name)),
        None => {
            r#"<p>This demo shows lucia-rs: sign up with a username and password, sign in, and manage your sessions.</p>
<p><a href="/signup">Create an account</a> or <a href="/login">sign in</a>.</p>"#
                .to_owned()
        }
    };
    format!("<h1>lucia-rs demo</h1>\n{notice}\n<section>{body}</section>")
}

pub fn not_found() -> String {
    r#"<h1>Page not found</h1><section><p>There is nothing here. <a href="/">Go home</a>.</p></section>"#.to_owned()
}

/// The account page: live sessions with their device, address and start time. Each session
/// is named by its handle, which cannot sign in: no session token is ever part of the page.
pub fn account(
    current: &Session<UserAttributes, SessionAttributes>,
    sessions: &[Session<UserAttributes, SessionAttributes>],
    notice: Option<&str>,
    error: Option<&str>,
    password_error: Option<&str>,
) -> String {
    let mut rows = String::new();
    for session in sessions {
        let this = session.handle == current.handle;
        let attributes = &session.attributes;
        let device = attributes.user_agent.as_deref().map_or("Unknown device".to_owned(), describe_agent);
        let _ = write!(
            rows,
            r#"<tr><td>{device}{tag}</td><td>{ip}</td><td>{started}</td><td>{action}</td></tr>"#,
            device = escape(&device),
            tag = if this { r#" <span class="tag">this device</span>"# } else { "" },
            ip = escape(attributes.ip.as_deref().unwrap_or("unknown")),
            started = attributes.created_at.map_or("unknown".to_owned(), format_time),
            action = if this {
                r#"<form method="post" action="/logout"><button type="submit" class="secondary">Sign out</button></form>"#
                    .to_owned()
            } else {
                format!(
                    r#"<form method="post" action="/account/sessions/revoke"><input type="hidden" name="session" value="{}"><button type="submit" class="secondary" aria-label="Sign out the session on {}">Sign out this one</button></form>"#,
                    escape(&session.handle.to_string()),
                    escape(&device)
                )
            },
        );
    }
    let notice = self::notice(notice);
    let others = sessions.len().saturating_sub(1);
    let sign_out_others = if others > 0 {
        format!(
            r#"<form method="post" action="/account/sessions/revoke-others"><button type="submit" class="secondary">Sign out everywhere else ({others} other session{s})</button></form>"#,
            s = if others == 1 { "" } else { "s" }
        )
    } else {
        "<p>You are signed in on this device only.</p>".to_owned()
    };
    format!(
        r#"<h1>Your account</h1>
{notice}
{alert}
<section aria-labelledby="profile-heading">
<h2 id="profile-heading">Profile</h2>
<dl><dt>Username</dt><dd id="account-username">{username}</dd><dt>User id</dt><dd><code>{user_id}</code></dd></dl>
</section>
<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">Signed-in sessions</h2>
<table>
<caption class="hint">Each place you are signed in. Sessions end after 14 days without use.</caption>
<thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>{rows}</tbody>
</table>
{sign_out_others}
</section>
<form class="card" method="post" action="/account/password" aria-labelledby="password-heading">
<h2 id="password-heading">Change password</h2>
<p class="hint">Signs you out everywhere else.</p>
<label for="current_password">Current password</label>
<input type="password" id="current_password" name="current_password" required autocomplete="current-password">
<label for="new_password">New password</label>
<input type="password" id="new_password" name="new_password" required minlength="8" autocomplete="new-password" aria-describedby="{new_password_described}"{new_password_invalid}>
{new_password_error}<p class="hint" id="new-password-hint">At least 8 characters, and hard to guess.</p>
<button type="submit">Change password</button>
</form>
<form class="card" method="post" action="/account/delete" aria-labelledby="delete-heading">
<h2 id="delete-heading">Delete account</h2>
<p>This deletes your account and signs you out everywhere. It cannot be undone.</p>
<label for="delete_password">Password</label>
<input type="password" id="delete_password" name="password" required autocomplete="current-password">
<button type="submit" class="danger">Delete my account</button>
</form>"#,
        alert = alert(error),
        new_password_described =
            if password_error.is_some() { "new-password-error new-password-hint" } else { "new-password-hint" },
        new_password_invalid = if password_error.is_some() { r#" aria-invalid="true""# } else { "" },
        new_password_error = field_error("new-password-error", password_error),
        username = escape(&current.user.attributes.username),
        user_id = escape(&current.user.user_id),
    )
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
pub fn format_time(ms: i64) -> String {
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
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn formats_times_and_agents() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_795_655_076_154), "2026-11-26 01:04 UTC");
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(describe_agent(chrome), "Chrome on Linux");
        assert_eq!(describe_agent("curl/8.5.0"), "curl");
    }
}
