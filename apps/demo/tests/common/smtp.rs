//! A local SMTP server for the tests: Python's `aiosmtpd` (pinned in `.ci/run`) on a free
//! loopback port, storing each message it receives in a maildir that the test reads back.
//! Stopped, and its maildir removed, when dropped.
//!
//! Without `aiosmtpd` a test using it is skipped (and says so), unless
//! `LUCIA_TEST_REQUIRE_SERVERS=1`.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts aiosmtpd, or `None` (skip) when it is not installed and skipping is allowed.
    pub fn start() -> Option<Self> {
        let installed = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!("python3 -m aiosmtpd is not available, and LUCIA_TEST_REQUIRE_SERVERS=1 forbids skipping");
            }
            eprintln!("SKIPPED: install aiosmtpd (pip install aiosmtpd) to run the tests with SMTP");
            return None;
        }
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        let maildir = std::env::temp_dir().join(format!("lucia-demo-smtp-{}", lucia::generate_random_string(12)));
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = Self { child, port, maildir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// The demo's `--smtp-url` for this server (plain SMTP on loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The first message to `address` that `matches`, waiting up to five seconds for it.
    pub async fn mail_to(&self, address: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(mail) = super::mails_in(&self.maildir.join("new"), address).into_iter().find(|m| matches(m)) {
                return mail;
            }
            assert!(Instant::now() < deadline, "no such mail to {address} reached the SMTP server");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}
