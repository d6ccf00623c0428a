//! [`Logs`]: what `tracing` logged on the test's thread, for the integration tests that check
//! log lines.

use std::io::Write;

/// What `tracing` logged on this thread. One global subscriber writes each event to a buffer of
/// the thread that logs it; each test's current-thread runtime runs the sweeper on the test's
/// thread. (Scoped subscribers, one per test, race with each other over tracing's cached
/// callsite interest when tests run in parallel, and lose events.)
pub struct Logs;

thread_local! {
    static THREAD_LOGS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Logs {
    pub fn install() -> Self {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| Logs)
                .with_ansi(false)
                .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        });
        THREAD_LOGS.with(|logs| logs.borrow_mut().clear());
        Logs
    }
    pub fn text(&self) -> String {
        THREAD_LOGS.with(|logs| String::from_utf8_lossy(&logs.borrow()).into_owned())
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        THREAD_LOGS.with(|logs| logs.borrow_mut().extend_from_slice(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
