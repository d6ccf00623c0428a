//! The SMTP mailer.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::{Mail, MailError, Mailer};

/// How [`SmtpMailer`] secures its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// No TLS: for a server on the same host or network in development. Do not send
    /// credentials this way over an untrusted network.
    None,
    /// Plain connection upgraded with `STARTTLS`, required (the send fails without it);
    /// usually port 587.
    StartTls,
    /// TLS from the first byte ("SMTPS"); usually port 465.
    Implicit,
}

/// SMTP mailer on [`lettre`]'s `AsyncSmtpTransport` (Tokio). TLS is rustls with the `ring`
/// provider and Mozilla's root certificates (`webpki-roots`).
///
/// Each send opens a connection (no pool). The password is never shown by `Debug`, errors or
/// logs.
///
/// ```no_run
/// use lucia_mail::{Mail, Mailer, SmtpMailer, SmtpTls};
///
/// # async fn run() -> Result<(), lucia_mail::MailError> {
/// // From a URL: `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required`
/// // (STARTTLS), `smtps://user:pass@host:465` (implicit TLS).
/// let mailer = SmtpMailer::from_url("smtps://user:secret@smtp.example.com:465", "no-reply@example.com")?;
/// // Or settings one by one.
/// let mailer = SmtpMailer::builder("smtp.example.com", "Example <no-reply@example.com>")
///     .tls(SmtpTls::StartTls)
///     .port(587)
///     .credentials("user", "secret")
///     .build()?;
/// mailer.send(&Mail::new("ada@example.com", "Hello", "Hello, Ada.")).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Where it sends, without credentials, for `Debug`.
    server: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer from a connection URL, sending as `from`.
    ///
    /// `smtp://[user:pass@]host[:port]` is plain (port 25 by default),
    /// `smtp://...?tls=required` uses STARTTLS (port 587), `smtps://[user:pass@]host[:port]` implicit TLS
    /// (port 465 by default). User and password are percent-decoded.
    pub fn from_url(url: &str, from: &str) -> Result<Self, MailError> {
        let from = crate::parse_from(from)?;
        // lettre's URL errors name the part that is wrong, never the URL itself.
        let builder =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| MailError::Config(e.to_string()))?;
        Ok(Self { transport: builder.build(), from, server: redact_url(url) })
    }

    /// Settings one by one for `host`, sending as `from`: TLS [`SmtpTls::Implicit`] on port
    /// 465 unless told otherwise.
    pub fn builder(host: impl Into<String>, from: &str) -> SmtpMailerBuilder {
        SmtpMailerBuilder {
            host: host.into(),
            from: crate::parse_from(from),
            port: None,
            tls: SmtpTls::Implicit,
            credentials: None,
            timeout: None,
        }
    }
}

/// Hides the user info of an SMTP URL: `smtps://***@host:465`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "<invalid url>".to_owned() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{tail}"),
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// Settings for an [`SmtpMailer`]; from [`SmtpMailer::builder`].
pub struct SmtpMailerBuilder {
    host: String,
    from: Result<Mailbox, MailError>,
    port: Option<u16>,
    tls: SmtpTls,
    credentials: Option<(String, String)>,
    timeout: Option<Duration>,
}

impl fmt::Debug for SmtpMailerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailerBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpMailerBuilder {
    /// The port; by default 465 with [`SmtpTls::Implicit`], 587 with [`SmtpTls::StartTls`]
    /// and 25 with [`SmtpTls::None`].
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How the connection is secured.
    #[must_use]
    pub fn tls(mut self, tls: SmtpTls) -> Self {
        self.tls = tls;
        self
    }

    /// Authenticates with `user` and `password` (PLAIN or LOGIN, as the server offers).
    #[must_use]
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Time limit of each network operation (lettre's default: 60 seconds).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The mailer; fails on an invalid sender or TLS settings.
    pub fn build(self) -> Result<SmtpMailer, MailError> {
        let from = self.from?;
        let tls = match self.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls | SmtpTls::Implicit => {
                let params = TlsParameters::new(self.host.clone()).map_err(|e| MailError::Config(e.to_string()))?;
                if self.tls == SmtpTls::StartTls { Tls::Required(params) } else { Tls::Wrapper(params) }
            }
        };
        let port = self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
        });
        let scheme = match self.tls {
            SmtpTls::None => "smtp",
            SmtpTls::StartTls => "smtp+starttls",
            SmtpTls::Implicit => "smtps",
        };
        let server = format!("{scheme}://{}{}:{port}", if self.credentials.is_some() { "***@" } else { "" }, self.host);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host).port(port).tls(tls);
        if let Some((user, password)) = self.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(Some(timeout));
        }
        Ok(SmtpMailer { transport: builder.build(), from, server })
    }
}

/// Sorts lettre's error into the caller's cases.
fn classify(e: &lettre::transport::smtp::Error) -> MailError {
    if let Some(code) = e.status() {
        let code_num =
            u16::from(code.severity as u8) * 100 + u16::from(code.category as u8) * 10 + u16::from(code.detail as u8);
        return MailError::Rejected { code: code_num, transient: e.is_transient(), message: e.to_string() };
    }
    if e.is_response() {
        return MailError::Rejected { code: 0, transient: false, message: e.to_string() };
    }
    MailError::Unavailable(e.to_string())
}

impl Mailer for SmtpMailer {
    async fn send(&self, message: &Mail) -> Result<(), MailError> {
        let email = message.to_message(&self.from)?;
        match self.transport.send(email).await {
            Ok(_) => {
                tracing::debug!(to = %message.to, server = %self.server, "mail sent");
                Ok(())
            }
            Err(e) => {
                let error = classify(&e);
                tracing::warn!(to = %message.to, server = %self.server, %error, "mail not sent");
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_errors_hide_the_password() {
        let mailer = SmtpMailer::from_url("smtps://user:hunter2@mail.example.com:465", "a@example.com").unwrap();
        let debug = format!("{mailer:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("user:"), "{debug}");
        let builder = SmtpMailer::builder("mail.example.com", "a@example.com").credentials("user", "hunter2");
        assert!(!format!("{builder:?}").contains("hunter2"));
        let mailer = builder.build().unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2"));
        let error = SmtpMailer::from_url("ftp://user:hunter2@mail.example.com", "a@example.com").unwrap_err();
        assert!(matches!(error, MailError::Config(_)));
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[test]
    fn invalid_sender_is_typed() {
        assert!(matches!(SmtpMailer::builder("h", "not an address").build(), Err(MailError::InvalidAddress { .. })));
    }
}
