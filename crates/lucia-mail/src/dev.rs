//! The development mailer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;

use crate::{Mail, MailError, Mailer};

/// Development mailer: logs each message and writes it to a folder, one `.eml` file
/// (RFC 5322, as an SMTP server would receive it) per message. Sends nothing.
///
/// **For development only**: the log line (`tracing::info!`) has the recipient and subject, and
/// the file has the whole message, body included, so verification codes and reset links end
/// up on disk and in the log's neighbourhood. Never use it where real users sign up.
///
/// File names are `<microseconds since the epoch, 20 digits>-<counter, 6 digits>.eml`: unique
/// within the process, and sorting them by name sorts the messages by time of sending.
///
/// ```
/// use lucia_mail::{DevMailer, Mail, Mailer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lucia_mail::MailError> {
/// let dir = std::env::temp_dir().join(format!("lucia-mail-dev-doc-{}", std::process::id()));
/// let mailer = DevMailer::new("no-reply@example.com", &dir)?;
/// let path = mailer.write(&Mail::new("ada@example.com", "Reset your password", "https://...")).await?;
/// assert!(std::fs::read_to_string(&path)?.contains("Subject: Reset your password"));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DevMailer {
    from: Mailbox,
    dir: PathBuf,
    counter: AtomicU64,
}

impl DevMailer {
    /// A mailer sending as `from` into `dir` (created if missing).
    pub fn new(from: &str, dir: impl AsRef<Path>) -> Result<Self, MailError> {
        let from = crate::parse_from(from)?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { from, dir, counter: AtomicU64::new(0) })
    }

    /// The folder the messages go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Like [`Mailer::send`], and returns the path of the file written.
    pub async fn write(&self, mail: &Mail) -> Result<PathBuf, MailError> {
        let message = mail.to_message(&self.from)?;
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{micros:020}-{n:06}.eml"));
        // `create_new`: never overwrite a message, even one from another process.
        use tokio::io::AsyncWriteExt;
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Readable by the owner alone: the messages hold codes and reset links.
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&path).await?;
        file.write_all(&message.formatted()).await?;
        file.flush().await?;
        tracing::info!(to = %mail.to, subject = %mail.subject, path = %path.display(), "development mailer: message written, not sent");
        Ok(path)
    }
}

impl Mailer for DevMailer {
    async fn send(&self, message: &Mail) -> Result<(), MailError> {
        self.write(message).await.map(drop)
    }
}
