//! The benchmark still runs: `--quick` on SQLite, every scenario printing a well-formed line,
//! `http_me` included; and the lucia@2 peer's lines when `node` and
//! `interop/lucia-v2/node_modules` are there (else the run says it skips the peer). No figure
//! is checked; targets are read from a full run's output. And the run's refusals: a peer
//! that dies or hangs is left out, a wrong flag is refused, a stopped run removes its store.

use std::process::Command;

#[test]
fn quick_run_on_sqlite_prints_every_scenario() {
    let output = Command::new(env!("CARGO_BIN_EXE_lucia-bench"))
        .args(["--quick", "--json", "--backends", "sqlite"])
        .output()
        .expect("run lucia-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lucia-bench failed: {stderr}");
    let (peer_lines, lines): (Vec<serde_json::Value>, Vec<serde_json::Value>) = String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}")))
        .partition(|line| line.get("peer").is_some());
    // The sign-in lines again with the hashes in an idle cgroup, where the run could make one
    // (else it says why on stderr).
    let (cgroup_lines, lines): (Vec<_>, Vec<_>) =
        lines.into_iter().partition(|line| line["hashing"] == "background, idle cgroup");
    let cgroup_scenarios: Vec<&str> = cgroup_lines.iter().map(|l| l["scenario"].as_str().expect("scenario")).collect();
    if stderr.contains("no `background, idle cgroup` lines") {
        assert!(cgroup_scenarios.is_empty(), "{cgroup_scenarios:?}");
    } else {
        assert_eq!(cgroup_scenarios, ["use_key", "validate_during_signins"], "{stderr}");
    }
    let scenarios: Vec<&str> = lines.iter().map(|l| l["scenario"].as_str().expect("scenario")).collect();
    assert_eq!(
        scenarios,
        [
            "validate_session",
            "validate_session",
            "validate_session",
            "validate_session",
            "allocations",
            "allocations",
            "validate_session_renew",
            "create_session",
            "create_user",
            "create_user",
            "allocations",
            "concurrent_sign_ins",
            "use_key",
            "validate_during_signins",
            "use_key",
            "validate_during_signins",
            "use_key",
            "validate_during_signins",
            "http_me",
            "http_me",
        ]
    );
    // The sign-in lines, once per hasher (the default Argon2id, Lucia v2's s2), then the
    // default's at normal priority; each use_key with its own raw floor.
    let hashers: Vec<(&str, &str, Option<&str>)> = lines
        .iter()
        .filter(|l| ["create_user", "use_key", "validate_during_signins"].contains(&l["scenario"].as_str().unwrap()))
        .map(|l| (l["scenario"].as_str().unwrap(), l["hasher"].as_str().expect("a hasher"), l["hashing"].as_str()))
        .collect();
    assert_eq!(
        hashers,
        [
            ("create_user", "argon2id", None),
            ("create_user", "s2", None),
            ("use_key", "argon2id", None),
            ("validate_during_signins", "argon2id", None),
            ("use_key", "s2", None),
            ("validate_during_signins", "s2", None),
            ("use_key", "argon2id", Some("normal priority")),
            ("validate_during_signins", "argon2id", Some("normal priority")),
        ]
    );
    for line in lines.iter().filter(|l| l["scenario"] == "use_key") {
        let hasher = line["hasher"].as_str().unwrap();
        let floor = line["floor"].as_str().expect("a raw floor");
        assert!(floor.starts_with(&format!("{hasher}: raw hashes on ")), "{line}");
        assert!(line["floor_ops_per_sec"].as_f64().is_some_and(|v| v > 0.0), "{line}");
    }
    for line in &lines {
        assert_eq!(line["backend"], "sqlite");
        match line["scenario"].as_str() {
            Some("allocations") => {
                assert!(line["op"].is_string(), "{line}");
                for field in ["allocations_per_op", "bytes_per_op"] {
                    assert!(line[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {line}");
                }
            }
            Some("concurrent_sign_ins") => {
                for field in ["rss_before_mib", "rss_peak_mib", "hashing_bound_mib"] {
                    assert!(line[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {line}");
                }
                assert!(line["finished"].as_u64().is_some(), "{line}");
                // Past the hashing threads and their queue, sign-ins are refused, not queued.
                let (finished, busy) = (line["finished"].as_u64().unwrap(), line["busy"].as_u64().expect("busy"));
                // (How many depends on the number of cores: 16 waiting per hashing thread.)
                assert!(finished + busy <= line["in_flight"].as_u64().unwrap(), "{line}");
            }
            _ => {
                for field in ["in_flight", "ops_per_sec", "p50_us", "p99_us"] {
                    assert!(line[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {line}");
                }
            }
        }
        if line["scenario"] == "validate_session" {
            assert_eq!(line["floor"], "rusqlite (same statement)");
            assert!(line["floor_ops_per_sec"].as_f64().is_some_and(|v| v > 0.0), "{line}");
            assert!(line["ratio"].as_f64().is_some(), "{line}");
            assert_eq!(line["other_floors"][0]["floor"], "sqlx (same statement)", "{line}");
            assert!(line["other_floors"][0]["ops_per_sec"].as_f64().is_some_and(|v| v > 0.0), "{line}");
        }
    }
    let http: Vec<_> = lines.iter().filter(|l| l["scenario"] == "http_me").collect();
    assert_eq!(http.iter().map(|l| l["in_flight"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 32]);
    for line in http {
        assert_eq!(line["floor"], "axum+sqlx", "{line}");
        assert!(line["ratio"].as_f64().is_some_and(|v| v > 0.0), "{line}");
        assert_eq!(line["other_floors"][0]["floor"], "axum+lucia", "{line}");
        assert!(line["other_floors"][0]["ratio"].as_f64().is_some_and(|v| v > 0.0), "{line}");
    }
    if peer_lines.is_empty() {
        assert!(stderr.contains("skipping the lucia@2 peer"), "no peer lines and no skip message: {stderr}");
    } else {
        let scenarios: Vec<&str> = peer_lines.iter().map(|l| l["scenario"].as_str().expect("scenario")).collect();
        assert_eq!(
            scenarios,
            [
                "validate_session",
                "validate_session",
                "validate_session_renew",
                "create_session",
                "create_user",
                "use_key"
            ]
        );
        for line in &peer_lines {
            assert_eq!((&line["peer"], &line["backend"]), (&"lucia@2".into(), &"sqlite".into()), "{line}");
            for field in ["in_flight", "ops_per_sec", "p50_us", "p99_us"] {
                assert!(line[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {line}");
            }
            assert!(line["runtime"].as_str().is_some_and(|r| r.starts_with("node ")), "{line}");
        }
        let in_flight: Vec<_> = peer_lines[..2].iter().map(|l| l["in_flight"].as_u64().unwrap()).collect();
        assert_eq!(in_flight, [1, 32]);
        for trouble in ["peer stopped", "peer failed", "peer did not exit"] {
            assert!(!stderr.contains(trouble), "{stderr}");
        }
        // lucia@2 took turns with lucia-rs in each validate_session line.
        for line in lines.iter().filter(|l| l["scenario"] == "validate_session") {
            for field in ["peer_ops_per_sec", "peer_ratio"] {
                assert!(line[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {line}");
            }
        }
    }
    let modes: Vec<_> = lines.iter().filter_map(|l| l["tokens"].as_str()).collect();
    assert_eq!(modes, ["hashed", "hashed", "v2_compat", "v2_compat"]);
}

/// `lucia-bench --quick` on SQLite's `validate_session` with `script` as the peer's
/// `bench.mjs`: its stderr and its JSON lines, once it has succeeded. `None` without `node`.
fn run_with_stand_in_peer(name: &str, script: &str) -> Option<(String, Vec<serde_json::Value>)> {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("no node on the PATH: nothing to check");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("lucia-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("node_modules")).expect("make the peer's directory");
    std::fs::write(dir.join("bench.mjs"), script).expect("write the stand-in");
    let output = Command::new(env!("CARGO_BIN_EXE_lucia-bench"))
        .args(["--quick", "--json", "--backends", "sqlite", "--scenarios", "validate_session", "--peer-dir"])
        .arg(&dir)
        .output()
        .expect("run lucia-bench");
    std::fs::remove_dir_all(&dir).expect("remove the peer's directory");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "lucia-bench failed: {stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}")))
        .collect();
    assert_eq!(lines.len(), 4, "the four validate_session lines of lucia-rs, no peer line: {lines:?}");
    for line in &lines {
        assert!(line.get("peer").is_none() && line["ratio"].as_f64().is_some(), "{line}");
    }
    Some((stderr, lines))
}

/// A peer that dies while it takes turns: lucia-bench says so, keeps the ratio of the line it
/// finished, prints no ratio after and none of the peer's own lines, and still finishes. The
/// stand-in `bench.mjs` answers two commands (the first line's warm-up and its one `--quick`
/// slice), then exits 3 (and does nothing in the run of the other scenarios).
#[test]
fn a_peer_that_dies_part_way_is_reported_and_left_out() {
    let script = r#"import { createInterface } from "node:readline";
if (process.argv.includes("--driven")) {
  console.log(JSON.stringify({ ready: true, runtime: "node stand-in" }));
  let answered = 0;
  createInterface({ input: process.stdin }).on("line", () => {
    if (++answered > 2) process.exit(3);
    console.log(JSON.stringify({ ops_per_sec: 1000, p50_us: 1, p99_us: 2 }));
  });
}"#;
    let Some((stderr, lines)) = run_with_stand_in_peer("dying-peer", script) else { return };
    assert!(stderr.contains("the lucia@2 peer stopped: it exited"), "{stderr}");
    assert!(stderr.contains("the lucia@2 peer failed (exit status: 3)"), "{stderr}");
    assert!(lines[0]["peer_ratio"].as_f64().is_some_and(|r| r > 0.0), "{}", lines[0]);
    for line in &lines[1..] {
        assert!(line.get("peer_ratio").is_none(), "{line}");
    }
}

/// A peer that hangs while it takes turns is waited for a bounded time, then left out: the
/// stand-in says it is ready and then answers no command (it exits when its input ends, as
/// lucia-bench closes it on giving up).
#[test]
fn a_peer_that_hangs_is_given_up_on() {
    let script = r#"import { createInterface } from "node:readline";
if (process.argv.includes("--driven")) {
  console.log(JSON.stringify({ ready: true, runtime: "node stand-in" }));
  createInterface({ input: process.stdin }).on("close", () => process.exit(0));
}"#;
    let Some((stderr, lines)) = run_with_stand_in_peer("hanging-peer", script) else { return };
    assert!(stderr.contains("the lucia@2 peer stopped: it printed nothing in 10.01s"), "{stderr}");
    assert!(!stderr.contains("peer failed") && !stderr.contains("did not exit"), "{stderr}");
    for line in &lines {
        assert!(line.get("peer_ratio").is_none(), "{line}");
    }
}

#[test]
fn help_prints_the_usage_and_a_wrong_flag_is_refused() {
    let run = |flag: &str| Command::new(env!("CARGO_BIN_EXE_lucia-bench")).arg(flag).output().expect("run lucia-bench");
    let help = run("--help");
    assert!(help.status.success(), "{help:?}");
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: lucia-bench"), "{help:?}");
    let wrong = run("--bogus");
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("unknown argument --bogus"), "{wrong:?}");
}

/// The raw-hash floor's own process (`--raw-hashes HASHER THREADS SECONDS`, which lucia-bench
/// runs itself) measures only what it is asked for: a hasher it does not know, no threads or
/// a time that is no time are refused with status 2, not measured as something else.
#[test]
fn the_raw_hashes_process_refuses_what_it_cannot_measure() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lucia-bench"))
            .arg("--raw-hashes")
            .args(args)
            .output()
            .expect("run lucia-bench")
    };
    for (args, says) in [
        (&["bogus", "1", "0.1"][..], "unknown hasher bogus: one of argon2id, s2"),
        (&["s2", "0", "0.1"], "threads 0"),
        (&["s2", "two", "0.1"], "threads two"),
        (&["s2", "1", "-1"], "seconds -1"),
        (&["s2", "1"], "takes a hasher, a number of threads and seconds"),
    ] {
        let refused = run(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {refused:?}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains(says), "{args:?}: {refused:?}");
        assert!(refused.stdout.is_empty(), "{args:?}: {refused:?}");
    }
    let measured = run(&["argon2id", "1", "0.05"]);
    assert!(measured.status.success(), "{measured:?}");
    let rate: f64 = String::from_utf8_lossy(&measured.stdout).trim().parse().expect("a rate");
    assert!(rate > 0.0, "{measured:?}");
}

/// Stopped with Ctrl-C part way, the run removes its store and exits with status 130: its
/// temporary directory (TMPDIR, one of the test's own) holds the SQLite file while it runs and
/// nothing once it has exited.
#[test]
fn a_run_stopped_by_a_signal_removes_its_store() {
    let dir = std::env::temp_dir().join(format!("lucia-bench-stopped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make the run's temporary directory");
    let child = Command::new(env!("CARGO_BIN_EXE_lucia-bench"))
        .args(["--json", "--no-peer", "--backends", "sqlite", "--scenarios", "validate_session", "--seconds", "30"])
        .env("TMPDIR", &dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run lucia-bench");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let has_store = || std::fs::read_dir(&dir).expect("read the directory").count() > 0;
    while !has_store() {
        assert!(std::time::Instant::now() < deadline, "no store was made in {}", dir.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Measuring by now (a slice is 50 ms; the store's sessions are made in well under that).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("run kill");
    assert!(kill.success(), "kill -INT failed");
    let output = child.wait_with_output().expect("wait for lucia-bench");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("read the directory").map(|e| e.expect("entry").path()).collect();
    std::fs::remove_dir_all(&dir).expect("remove the run's temporary directory");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("lucia-bench: stopping; removing the benchmark's store"), "{stderr}");
    assert!(left.is_empty(), "left behind: {left:?}");
}
