//! `SmtpMailer` against a real SMTP server: Python's `aiosmtpd` (pinned in `.ci/run`), started
//! per test on a free loopback port with its `Mailbox` handler (`rejecting_mailbox.py` next to
//! this file: refuses recipients starting with `reject` or `later`), which stores each delivered
//! message in a maildir that the test reads back.
//!
//! Without `aiosmtpd` the tests are skipped (and say so), unless `LUCIA_TEST_REQUIRE_SERVERS=1`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lucia_mail::{Mail, MailError, Mailer, SmtpMailer, SmtpTls};

struct Server {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("lucia-mail-{name}-{}-{nanos}", std::process::id()))
}

/// Starts aiosmtpd, or `None` (skip) when it is not installed and skipping is allowed.
fn start_server(name: &str) -> Option<Server> {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
            panic!("python3 -m aiosmtpd is not available, and LUCIA_TEST_REQUIRE_SERVERS=1 forbids skipping");
        }
        eprintln!("SKIPPED: install aiosmtpd (pip install aiosmtpd) to run the SMTP tests");
        return None;
    }
    let maildir = temp_dir(name);
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "rejecting_mailbox.RejectingMailbox"])
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/tests"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg(&maildir)
        .stdout(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let server = Server { child, port, maildir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(server)
}

/// The messages delivered to the maildir (`new/`), raw.
fn delivered(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

mod smtp {
    use super::*;

    #[tokio::test]
    async fn plain_send_without_auth_is_delivered() {
        let Some(server) = start_server("plain") else { return };
        let mailer = SmtpMailer::builder("127.0.0.1", "Lucia <no-reply@example.com>")
            .tls(SmtpTls::None)
            .port(server.port)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mail = Mail::new("Ada <ada@example.com>", "Your verification code", "Your code is 424242.")
            .with_html("<p>Your code is <b>424242</b>.</p>");
        mailer.send(&mail).await.unwrap();

        let messages = delivered(&server.maildir);
        assert_eq!(messages.len(), 1, "{messages:?}");
        let message = &messages[0];
        assert!(message.contains("To: Ada <ada@example.com>"), "{message}");
        assert!(message.contains("From: Lucia <no-reply@example.com>"), "{message}");
        assert!(message.contains("Subject: Your verification code"), "{message}");
        assert!(message.contains("Your code is 424242."), "{message}");
        assert!(message.contains("text/html"), "{message}");
        // aiosmtpd's Mailbox records the envelope recipient.
        assert!(message.contains("X-RcptTo: ada@example.com"), "{message}");
    }

    #[tokio::test]
    async fn send_through_url_is_delivered() {
        let Some(server) = start_server("url") else { return };
        let mailer =
            SmtpMailer::from_url(&format!("smtp://127.0.0.1:{}", server.port), "no-reply@example.com").unwrap();
        for i in 0..2 {
            mailer
                .send(&Mail::new("bob@example.com", format!("Reset {i}"), "https://example.com/reset/t"))
                .await
                .unwrap();
        }
        let messages = delivered(&server.maildir);
        assert_eq!(messages.len(), 2);
        assert!(messages.iter().any(|m| m.contains("Subject: Reset 0")));
        assert!(messages.iter().any(|m| m.contains("Subject: Reset 1")));
        assert!(
            messages.iter().all(|m| m.contains("To: bob@example.com") && m.contains("https://example.com/reset/t"))
        );
    }

    #[tokio::test]
    async fn connection_refused_is_unavailable() {
        // Checks the same dependency as the others, so a missing server is reported the same way.
        let Some(_server) = start_server("refused") else { return };
        let port = free_port(); // nothing listens there
        let mailer = SmtpMailer::builder("127.0.0.1", "no-reply@example.com")
            .tls(SmtpTls::None)
            .port(port)
            .timeout(Duration::from_secs(5))
            .credentials("user", "hunter2")
            .build()
            .unwrap();
        let error = mailer.send(&Mail::new("ada@example.com", "Hi", "Hi")).await.unwrap_err();
        assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn invalid_recipient_is_typed() {
        let Some(server) = start_server("invalid") else { return };
        let mailer = SmtpMailer::builder("127.0.0.1", "no-reply@example.com")
            .tls(SmtpTls::None)
            .port(server.port)
            .build()
            .unwrap();
        let error = mailer.send(&Mail::new("not an address", "Hi", "Hi")).await.unwrap_err();
        assert!(
            matches!(error, MailError::InvalidAddress { ref address, .. } if address == "not an address"),
            "{error:?}"
        );
        assert!(delivered(&server.maildir).is_empty());
    }

    #[tokio::test]
    async fn refused_recipient_is_rejected_with_its_code() {
        let Some(server) = start_server("rejected") else { return };
        let mailer = SmtpMailer::builder("127.0.0.1", "no-reply@example.com")
            .tls(SmtpTls::None)
            .port(server.port)
            .build()
            .unwrap();
        let error = mailer.send(&Mail::new("reject@example.com", "Hi", "Hi")).await.unwrap_err();
        assert!(matches!(error, MailError::Rejected { code: 550, transient: false, .. }), "{error:?}");
        let error = mailer.send(&Mail::new("later@example.com", "Hi", "Hi")).await.unwrap_err();
        assert!(matches!(error, MailError::Rejected { code: 451, transient: true, .. }), "{error:?}");
        assert!(delivered(&server.maildir).is_empty());
    }
}
