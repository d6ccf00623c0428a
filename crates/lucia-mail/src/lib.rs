//! Sending mail for lucia's flows (email verification codes, password-reset links).
//!
//! - [`Mailer`]: the trait the flows send through; one [`Mail`] at a time.
//! - [`SmtpMailer`]: SMTP on [`lettre`], plain for a local server, STARTTLS or implicit TLS
//!   (rustls, `ring` provider, Mozilla's roots) in production.
//! - [`DevMailer`]: development only; logs each message and writes it to a folder as one
//!   `.eml` file.
//!
//! The sender (`From`) belongs to the mailer's configuration, not to each [`Mail`].
//!
//! ```
//! use lucia_mail::{DevMailer, Mail, Mailer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lucia_mail::MailError> {
//! # let dir = std::env::temp_dir().join(format!("lucia-mail-doc-{}", std::process::id()));
//! let mailer = DevMailer::new("Example <no-reply@example.com>", &dir)?;
//! let mail = Mail::new("ada@example.com", "Your code", "Your verification code is 123456.");
//! mailer.send(&mail).await?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::future::Future;

mod dev;
mod smtp;

pub use dev::DevMailer;
pub use smtp::{SmtpMailer, SmtpMailerBuilder, SmtpTls};

/// One message to send: recipient, subject, a plain-text body and optionally an HTML body.
///
/// With an HTML body the message is `multipart/alternative` (text first, HTML second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient, `ada@example.com` or `Ada <ada@example.com>`.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative to [`Mail::text`].
    pub html: Option<String>,
}

impl Mail {
    /// A plain-text message.
    pub fn new(to: impl Into<String>, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Self { to: to.into(), subject: subject.into(), text: text.into(), html: None }
    }

    /// Adds an HTML alternative to the text body.
    #[must_use]
    pub fn with_html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Builds the RFC 5322 message with `from` as the sender.
    pub(crate) fn to_message(&self, from: &lettre::message::Mailbox) -> Result<lettre::Message, MailError> {
        use lettre::message::{MultiPart, SinglePart};
        let to: lettre::message::Mailbox = self.to.parse().map_err(|e: lettre::address::AddressError| {
            MailError::InvalidAddress { address: self.to.clone(), reason: e.to_string() }
        })?;
        let builder = lettre::Message::builder().from(from.clone()).to(to).subject(&self.subject);
        let built = match &self.html {
            None => builder.singlepart(SinglePart::plain(self.text.clone())),
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(self.text.clone(), html.clone())),
        };
        built.map_err(|e| MailError::Message(e.to_string()))
    }
}

/// Whether `address` is a plain email address (`local@domain`, no display name) that a
/// [`Mail`] can be sent to: check addresses typed into a form with it before storing them.
///
/// ```
/// assert!(lucia_mail::is_valid_address("ada@example.com"));
/// for bad in ["", "ada", "ada@", "@example.com", "Ada <ada@example.com>", "a b@example.com", "ada@exa mple.com"] {
///     assert!(!lucia_mail::is_valid_address(bad), "{bad}");
/// }
/// ```
pub fn is_valid_address(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

/// Parses a sender address from a mailer's configuration.
pub(crate) fn parse_from(from: &str) -> Result<lettre::message::Mailbox, MailError> {
    from.parse().map_err(|e: lettre::address::AddressError| MailError::InvalidAddress {
        address: from.to_owned(),
        reason: e.to_string(),
    })
}

/// Why a message was not sent.
///
/// No variant carries a password or a connection URL with credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The recipient or the configured sender is not a valid address.
    #[error("invalid email address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The message could not be built (for example a header that cannot be encoded).
    #[error("invalid message: {0}")]
    Message(String),
    /// The mailer's configuration is invalid (a malformed SMTP URL, an unknown scheme).
    #[error("invalid mailer configuration: {0}")]
    Config(String),
    /// The SMTP server could not be reached or the connection failed (refused, timed out,
    /// TLS handshake, closed mid-way). Usually worth retrying later.
    #[error("mail server unavailable: {0}")]
    Unavailable(String),
    /// The SMTP server answered with an error: a 4xx (`transient`, try again later) or a 5xx
    /// (permanent: unknown recipient, authentication failed, message refused).
    #[error("mail server rejected the message ({code}): {message}")]
    Rejected {
        /// The SMTP reply code, for example `550`; `0` when the server sent no code.
        code: u16,
        /// Whether the server called it temporary (4xx).
        transient: bool,
        /// The server's explanation.
        message: String,
    },
    /// The development mailer could not write its file.
    #[error("could not write the message: {0}")]
    Io(#[from] std::io::Error),
}

/// Something that sends [`Mail`].
///
/// Implemented by [`SmtpMailer`] and [`DevMailer`]; the future is `Send` so the flows can run
/// inside spawned tasks and axum handlers.
pub trait Mailer: Send + Sync {
    /// Sends one message; `Ok` once the server (or the folder) has accepted it.
    fn send(&self, message: &Mail) -> impl Future<Output = Result<(), MailError>> + Send;
}

impl<M: Mailer + ?Sized> Mailer for &M {
    fn send(&self, message: &Mail) -> impl Future<Output = Result<(), MailError>> + Send {
        (**self).send(message)
    }
}

impl<M: Mailer + ?Sized> Mailer for std::sync::Arc<M> {
    fn send(&self, message: &Mail) -> impl Future<Output = Result<(), MailError>> + Send {
        (**self).send(message)
    }
}
