//! The peer: the same scenarios with the real lucia@2.7.7 on Node
//! (`interop/lucia-v2/bench.mjs`). Its lines carry `"peer": "lucia@2"`; `table.py` sets them
//! beside lucia-rs's.
//!
//! `validate_session`, where lucia-rs is compared with the peer at its closest, is measured in
//! the same turns as lucia-rs and its floors ([`Driven`]): measured minutes apart, the drift
//! of this shared machine landed whole in the ratio (on PostgreSQL at 1 in flight the raw sqlx
//! floor itself measured 1.9x–4.5x the peer across full runs). The other scenarios run right
//! after lucia-rs's own run of each backend, with the same `--seconds`, `--rounds`, `--quick`
//! and `--scenarios`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::measure::Sample;

/// The peer's name, in its lines' `peer` field.
pub const NAME: &str = "lucia@2";

/// Where `bench.mjs` and its `node_modules` are, unless `--peer-dir` says otherwise.
const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop/lucia-v2");

/// The scenarios `bench.mjs` measures in a run of its own, after lucia-rs's (`validate_session`
/// is [`Driven`]).
const SCENARIOS: [&str; 4] = ["validate_session_renew", "create_session", "create_user", "use_key"];

/// A runnable peer: `node` on the PATH, and `bench.mjs` with its installed packages.
pub struct Peer {
    dir: PathBuf,
}

/// What the peer is told, besides the backend: lucia-bench's own settings.
pub struct PeerArgs<'a> {
    pub seconds: f64,
    pub rounds: usize,
    pub quick: bool,
    pub scenarios: Option<&'a [String]>,
}

impl Peer {
    /// The peer in `dir` (else the repository's `interop/lucia-v2`), or `None` after saying
    /// on stderr why it cannot run.
    pub fn find(dir: Option<&Path>) -> Option<Self> {
        let dir = dir.map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_path_buf);
        let skip = |why: String| eprintln!("lucia-bench: skipping the lucia@2 peer: {why}");
        if !dir.join("bench.mjs").is_file() || !dir.join("node_modules").is_dir() {
            skip(format!("no {}/node_modules (run `npm ci --prefix {}`)", dir.display(), dir.display()));
            return None;
        }
        match Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(status) if status.success() => Some(Self { dir }),
            Ok(status) => {
                skip(format!("`node --version` failed ({status})"));
                None
            }
            Err(e) => {
                skip(format!("no node on the PATH ({e})"));
                None
            }
        }
    }

    /// `node bench.mjs` on `backend` (`sqlite` or `postgres`, with `postgres_url`).
    fn command(&self, backend: &str, postgres_url: Option<&str>, quick: bool) -> Command {
        let mut command = Command::new("node");
        command.current_dir(&self.dir).arg("bench.mjs").args(["--backend", backend]);
        if let Some(url) = postgres_url {
            command.args(["--postgres-url", url]);
        }
        if quick {
            command.arg("--quick");
        }
        // Out of the terminal's process group: a Ctrl-C that stops lucia-bench does not kill the
        // peer before it removes its store (its input closes, and it finishes).
        command.stderr(Stdio::inherit()).process_group(0);
        command
    }

    /// Starts the peer's `validate_session` on `backend`, ready to be measured a slice at a
    /// time, or `None` after saying on stderr why it could not start.
    pub fn driven(&self, backend: &str, postgres_url: Option<&str>, quick: bool) -> Option<Driven> {
        let mut command = self.command(backend, postgres_url, quick);
        command.arg("--driven").stdin(Stdio::piped()).stdout(Stdio::piped());
        let started = tokio::task::block_in_place(|| -> Result<Driven, String> {
            let mut child = command.spawn().map_err(|e| e.to_string())?;
            let lines = read_lines(&mut child);
            let Some(stdin) = child.stdin.take() else { unreachable!("piped above") };
            let mut driven = Driven {
                child,
                stdin: Some(stdin),
                lines,
                runtime: String::new(),
                slices: BTreeMap::new(),
                failed: false,
            };
            let ready = driven.read_line(READY_TIMEOUT)?;
            match (ready["ready"].as_bool(), ready["runtime"].as_str()) {
                (Some(true), Some(runtime)) => driven.runtime = runtime.to_owned(),
                _ => return Err(format!("it printed {ready} instead of being ready")),
            }
            Ok(driven)
        });
        started.map_err(|e| eprintln!("lucia-bench: could not start the lucia@2 peer on {backend}: {e}")).ok()
    }

    /// Runs the peer's other scenarios on `backend` (`sqlite` or `postgres`, with
    /// `postgres_url`), handing each line it prints to `emit` as a JSON value. A failure of
    /// the peer is reported on stderr and ends only the peer's run.
    pub fn run(&self, backend: &str, postgres_url: Option<&str>, args: &PeerArgs, emit: &mut dyn FnMut(&str)) {
        let wanted: Vec<&str> = SCENARIOS
            .into_iter()
            .filter(|scenario| args.scenarios.is_none_or(|only| only.iter().any(|s| s == scenario)))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let mut command = self.command(backend, postgres_url, args.quick);
        command.args(["--scenarios", &wanted.join(",")]);
        command.args(["--seconds", &args.seconds.to_string(), "--rounds", &args.rounds.to_string()]);
        command.stdout(Stdio::piped()).stdin(Stdio::null());
        // A scenario's line comes after its setup, warm-up and rounds: a peer silent for far
        // longer has hung, and is killed rather than waited for.
        let line_timeout = READY_TIMEOUT + Duration::from_secs_f64(2.0 * args.seconds * args.rounds as f64);
        // Nothing else runs meanwhile: the peer has the machine, as lucia-rs had it.
        let outcome = tokio::task::block_in_place(|| {
            let child = command.spawn().map_err(|e| e.to_string())?;
            relay_lines(child, line_timeout, emit)
        });
        match outcome {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("lucia-bench: the lucia@2 peer failed on {backend} ({status})"),
            Err(e) => eprintln!("lucia-bench: the lucia@2 peer on {backend}: {e}"),
        }
    }
}

/// The peer's `validate_session`, measured a slice at a time on command (`bench.mjs
/// --driven`), so that it takes turns with lucia-rs and its floors. Dropping it ends the
/// peer, which removes its store.
pub struct Driven {
    child: Child,
    /// Closed first when dropped: the end of its stdin tells the peer to finish.
    stdin: Option<ChildStdin>,
    /// The lines it prints, read by a thread of their own.
    lines: Receiver<std::io::Result<String>>,
    /// `node` and its version.
    runtime: String,
    /// Every slice measured, by requests in flight, for the peer's own lines.
    slices: BTreeMap<usize, Vec<Sample>>,
    failed: bool,
}

impl Driven {
    /// One slice of `validate_session` from `in_flight` loops for `duration`, kept for the
    /// peer's own lines, or `None` if the peer has failed (said once on stderr).
    pub fn slice(&mut self, in_flight: usize, duration: Duration) -> Option<Sample> {
        let sample = self.measure(in_flight, duration)?;
        self.slices.entry(in_flight).or_default().push(sample);
        Some(sample)
    }

    /// A slice that is not kept.
    pub fn warm_up(&mut self, in_flight: usize, duration: Duration) {
        self.measure(in_flight, duration);
    }

    fn measure(&mut self, in_flight: usize, duration: Duration) -> Option<Sample> {
        if self.failed {
            return None;
        }
        let command = serde_json::json!({ "in_flight": in_flight, "seconds": duration.as_secs_f64() });
        let measured = tokio::task::block_in_place(|| -> Result<Sample, String> {
            let stdin = self.stdin.as_mut().ok_or("its input is closed")?;
            writeln!(stdin, "{command}").and_then(|()| stdin.flush()).map_err(|e| e.to_string())?;
            let line = self.read_line(duration + REPLY_MARGIN)?;
            let number = |field: &str| line[field].as_f64().ok_or_else(|| format!("it printed {line}"));
            Ok(Sample { ops_per_sec: number("ops_per_sec")?, p50_us: number("p50_us")?, p99_us: number("p99_us")? })
        });
        match measured {
            Ok(sample) => Some(sample),
            Err(e) => {
                eprintln!("lucia-bench: the lucia@2 peer stopped: {e}");
                self.failed = true;
                // Tells it to remove its store now rather than when it is dropped.
                drop(self.stdin.take());
                None
            }
        }
    }

    /// `node` and its version.
    pub fn runtime(&self) -> &str {
        &self.runtime
    }

    /// The median of every slice measured, per requests in flight; none if the peer stopped
    /// part way (the lines it still had to take turns in would have nothing to pair with).
    pub fn medians(&self) -> impl Iterator<Item = (usize, Sample)> + '_ {
        let slices = if self.failed { None } else { Some(&self.slices) };
        slices.into_iter().flatten().map(|(&in_flight, samples)| (in_flight, Sample::median(samples)))
    }

    /// The next line the peer prints, as JSON, if it prints one within `timeout`.
    fn read_line(&mut self, timeout: Duration) -> Result<serde_json::Value, String> {
        match self.lines.recv_timeout(timeout) {
            Ok(Ok(line)) => serde_json::from_str(&line).map_err(|_| format!("it printed {line}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(RecvTimeoutError::Disconnected) => Err("it exited".to_owned()),
            Err(RecvTimeoutError::Timeout) => Err(format!("it printed nothing in {timeout:?}")),
        }
    }
}

/// Hands each scenario line `child` prints to `emit` (other lines go to stderr) until it
/// exits; a child silent for `line_timeout`, or whose output cannot be read, is killed.
fn relay_lines(mut child: Child, line_timeout: Duration, emit: &mut dyn FnMut(&str)) -> Result<ExitStatus, String> {
    let lines = read_lines(&mut child);
    loop {
        let why = match lines.recv_timeout(line_timeout) {
            Ok(Ok(line)) => {
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(value) if value["scenario"].is_string() => emit(&line),
                    _ => eprintln!("lucia-bench: the lucia@2 peer printed: {line}"),
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return child.wait().map_err(|e| e.to_string()),
            Ok(Err(e)) => e.to_string(),
            Err(RecvTimeoutError::Timeout) => format!("it printed nothing in {line_timeout:?}"),
        };
        let _ = child.kill().and_then(|()| child.wait());
        return Err(format!("{why}; killed, its store may be left"));
    }
}

/// The lines `child` prints on its piped stdout, read on a thread of their own so that a peer
/// that hangs is waited for a bounded time; the thread ends with the peer's output.
fn read_lines(child: &mut Child) -> Receiver<std::io::Result<String>> {
    let Some(stdout) = child.stdout.take() else { unreachable!("stdout is piped") };
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// How long the peer may take to make its sessions and say it is ready, and (with the time
/// its rounds take) to print a line of its other scenarios.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long past a slice's end the peer may take to answer: its operations in flight finish
/// within milliseconds, so a peer this late has hung.
const REPLY_MARGIN: Duration = Duration::from_secs(10);

/// How long the peer may take to remove its store and exit once its input is closed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

impl Drop for Driven {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_TIMEOUT;
        let exited = tokio::task::block_in_place(|| {
            loop {
                match self.child.try_wait() {
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    other => break other,
                }
            }
        });
        match exited {
            Ok(Some(status)) if status.success() => {}
            Ok(Some(status)) => eprintln!("lucia-bench: the lucia@2 peer failed ({status})"),
            Ok(None) => {
                // Killed, it leaves its schema or file behind; say so rather than wait forever.
                let _ = self.child.kill().and_then(|()| self.child.wait());
                eprintln!(
                    "lucia-bench: the lucia@2 peer did not exit in {EXIT_TIMEOUT:?}; killed, its store may be left"
                );
            }
            Err(e) => eprintln!("lucia-bench: the lucia@2 peer: {e}"),
        }
    }
}

/// A peer line in lucia-bench's text format.
pub fn text_line(line: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(line).expect("checked in Peer::run");
    let number = |field: &str| value[field].as_f64().unwrap_or(f64::NAN);
    format!(
        "{:<24} {:<16} {:<10} in_flight={:<3} {:>9.0}/s  p50 {:>8.1} µs  p99 {:>8.1} µs  ({})",
        value["scenario"].as_str().unwrap_or(""),
        value["backend"].as_str().unwrap_or(""),
        value["peer"].as_str().unwrap_or("peer"),
        number("in_flight"),
        number("ops_per_sec"),
        number("p50_us"),
        number("p99_us"),
        value["runtime"].as_str().unwrap_or("node"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sh -c script` with its stdout piped, as the peer is run.
    fn shell(script: &str) -> Child {
        Command::new("sh").args(["-c", script]).stdout(Stdio::piped()).stdin(Stdio::null()).spawn().expect("run sh")
    }

    #[test]
    fn a_peer_silent_past_its_timeout_is_killed_and_its_lines_so_far_kept() {
        let mut emitted = Vec::new();
        let start = Instant::now();
        let child = shell(r#"echo '{"scenario":"use_key"}'; echo warming up; exec sleep 60"#);
        let outcome = relay_lines(child, Duration::from_millis(300), &mut |line| emitted.push(line.to_owned()));
        assert_eq!(outcome, Err("it printed nothing in 300ms; killed, its store may be left".to_owned()));
        assert_eq!(emitted, [r#"{"scenario":"use_key"}"#]);
        // Killed, not waited for: `sleep 60` would have kept it.
        assert!(start.elapsed() < Duration::from_secs(30), "{:?}", start.elapsed());
    }

    #[test]
    fn a_peer_that_exits_is_waited_for_and_its_status_kept() {
        let mut emitted = Vec::new();
        let child = shell(r#"echo '{"scenario":"create_user"}'; sleep 0.5; echo '{"scenario":"use_key"}'; exit 3"#);
        let outcome = relay_lines(child, Duration::from_secs(10), &mut |line| emitted.push(line.to_owned()));
        assert_eq!(outcome.map(|status| status.code()), Ok(Some(3)));
        assert_eq!(emitted, [r#"{"scenario":"create_user"}"#, r#"{"scenario":"use_key"}"#]);
    }
}
