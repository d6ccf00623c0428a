//! The peer: the same scenarios with the real lucia@2.7.7 on Node
//! (`interop/lucia-v2/bench.mjs`), run right after lucia-rs's own run of each backend, with
//! the same `--seconds`, `--rounds`, `--quick` and `--scenarios`. Its lines carry
//! `"peer": "lucia@2"`; `table.py` sets them beside lucia-rs's.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where `bench.mjs` and its `node_modules` are, unless `--peer-dir` says otherwise.
const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop/lucia-v2");

/// The scenarios `bench.mjs` measures.
const SCENARIOS: [&str; 5] = ["validate_session", "validate_session_renew", "create_session", "create_user", "use_key"];

/// A runnable peer: `node` on the PATH, and `bench.mjs` with its installed packages.
pub struct Peer {
    dir: PathBuf,
}

/// What the peer is told, besides the backend.
pub struct PeerArgs<'a> {
    pub seconds: Option<f64>,
    pub rounds: Option<usize>,
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

    /// Runs the peer on `backend` (`sqlite` or `postgres`, with `postgres_url`), handing each
    /// line it prints to `emit` as a JSON value. A failure of the peer is reported on stderr
    /// and ends only the peer's run.
    pub fn run(&self, backend: &str, postgres_url: Option<&str>, args: &PeerArgs, emit: &mut dyn FnMut(&str)) {
        if args.scenarios.is_some_and(|only| !only.iter().any(|s| SCENARIOS.contains(&s.as_str()))) {
            return;
        }
        let mut command = Command::new("node");
        command.current_dir(&self.dir).arg("bench.mjs").args(["--backend", backend]);
        if let Some(url) = postgres_url {
            command.args(["--postgres-url", url]);
        }
        if args.quick {
            command.arg("--quick");
        }
        if let Some(seconds) = args.seconds {
            command.args(["--seconds", &seconds.to_string()]);
        }
        if let Some(rounds) = args.rounds {
            command.args(["--rounds", &rounds.to_string()]);
        }
        if let Some(scenarios) = args.scenarios {
            command.args(["--scenarios", &scenarios.join(",")]);
        }
        command.stdout(Stdio::piped()).stderr(Stdio::inherit()).stdin(Stdio::null());
        // Nothing else runs meanwhile: the peer has the machine, as lucia-rs had it.
        let outcome = tokio::task::block_in_place(|| -> std::io::Result<std::process::ExitStatus> {
            let mut child = command.spawn()?;
            let stdout = child.stdout.take().expect("piped stdout");
            for line in BufReader::new(stdout).lines() {
                let line = line?;
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(value) if value["scenario"].is_string() => emit(&line),
                    _ => eprintln!("lucia-bench: the lucia@2 peer printed: {line}"),
                }
            }
            child.wait()
        });
        match outcome {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("lucia-bench: the lucia@2 peer failed on {backend} ({status})"),
            Err(e) => eprintln!("lucia-bench: could not run the lucia@2 peer on {backend}: {e}"),
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
