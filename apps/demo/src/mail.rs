//! The demo's mail: verification codes and password-reset links, through SMTP when
//! `--smtp-url` is set, otherwise into a folder (`MAIL_DIR`), one `.eml` file per message.
//!
//! Mail is sent in the background: a request never waits for (or fails with) the mail
//! server, and a reset request answers before anything depends on whether the address has an
//! account. Failures are logged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use lucia::{EmailVerificationCode, PasswordReset};
use lucia_mail::{DevMailer, Mail, MailError, Mailer, SmtpMailer};

/// Where mail goes.
enum Transport {
    Smtp(SmtpMailer),
    Folder(DevMailer),
}

impl Mailer for Transport {
    async fn send(&self, message: &Mail) -> Result<(), MailError> {
        match self {
            Self::Smtp(mailer) => mailer.send(message).await,
            Self::Folder(mailer) => mailer.send(message).await,
        }
    }
}

/// The demo's mailer, in the router's state. Clones share one transport.
#[derive(Clone)]
pub struct Mails {
    transport: Arc<Transport>,
    /// The origin of the links in mails: `--public-origin`, or the address the demo listens
    /// on (set by [`crate::serve`]). Never taken from a request's `Host` or `Origin`, which a
    /// client chooses: a reset link pointing elsewhere would hand the token to that host.
    link_origin: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for Mails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match *self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Folder(_) => "folder",
        };
        f.debug_struct("Mails").field("transport", &transport).field("link_origin", &self.link_origin.get()).finish()
    }
}

impl Mails {
    /// SMTP at `smtp_url` (`smtp://`, `smtps://`, with optional credentials), or, without it,
    /// files in `folder`, created if missing.
    pub fn new(smtp_url: Option<&str>, folder: &Path, from: &str) -> Result<Self, MailError> {
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(SmtpMailer::from_url(url, from)?),
            None => Transport::Folder(DevMailer::new(from, folder)?),
        };
        Ok(Self { transport: Arc::new(transport), link_origin: Arc::default() })
    }

    /// The folder mail goes to, when it is not sent by SMTP.
    pub fn folder(&self) -> Option<&Path> {
        match &*self.transport {
            Transport::Folder(mailer) => Some(mailer.dir()),
            Transport::Smtp(_) => None,
        }
    }

    /// Sets the origin of links (once; later calls change nothing).
    pub fn set_link_origin(&self, origin: &str) {
        let _ = self.link_origin.set(origin.trim_end_matches('/').to_owned());
    }

    /// Mails a verification code, in the background.
    pub fn send_verification_code(&self, code: &EmailVerificationCode) {
        let minutes = minutes_until(code.expires_at);
        let text = format!(
            "Your lucia demo verification code is {}\n\nIt works for {minutes} minutes. If you did not sign up, ignore this mail.\n",
            code.code()
        );
        self.send_later(Mail::new(&code.email, "Your verification code", text));
    }

    /// Mails a password-reset link, in the background.
    pub fn send_reset_link(&self, reset: &PasswordReset) {
        let origin = self.link_origin.get().map_or("http://localhost:3000", String::as_str);
        let minutes = minutes_until(reset.expires_at);
        let text = format!(
            "Someone asked to reset the password of your lucia demo account. To choose a new one, open\n\n{origin}/reset-password?token={}\n\nThe link works once, for {minutes} minutes. If it was not you, ignore this mail: your password stays as it is.\n",
            reset.token()
        );
        self.send_later(Mail::new(&reset.email, "Reset your password", text));
    }

    fn send_later(&self, mail: Mail) {
        let transport = Arc::clone(&self.transport);
        tokio::spawn(async move {
            // The recipient is logged, never the body (it holds the code or link).
            match transport.send(&mail).await {
                Ok(()) => tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent"),
                Err(error) => tracing::warn!(to = %mail.to, %error, "mail not sent"),
            }
        });
    }
}

/// Whole minutes from now until `at` (at least 1).
fn minutes_until(at: std::time::SystemTime) -> u64 {
    let left = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    left.as_secs().div_ceil(60).max(1)
}

/// The default mail folder: `lucia-demo-mail` in the working directory.
pub fn default_folder() -> PathBuf {
    PathBuf::from("lucia-demo-mail")
}
