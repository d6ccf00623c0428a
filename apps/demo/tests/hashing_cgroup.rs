//! The demo's `hashing_cgroup` setting (`--hashing-cgroup` / `HASHING_CGROUP`): a sign-up
//! hashes its password on threads in that cgroup. A test binary of its own, so that every
//! `lucia-hashing` thread of the process is the demo's. Skipped with a message where no
//! cgroup can be made, unless `LUCIA_TEST_REQUIRE_CGROUP` is set.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{App, email_of, unique_name};
use lucia::HashingCgroup;
use reqwest::StatusCode;
use serde_json::json;

/// The cgroup lines of this process's threads named `lucia-hashing`.
fn hashing_threads() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|task| {
            let dir = task.ok()?.path();
            let name = std::fs::read_to_string(dir.join("comm")).ok()?;
            (name.trim() == "lucia-hashing").then(|| std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default())
        })
        .collect()
}

/// Removes the test's cgroup when dropped, a failed test's too: a cgroup goes once its last
/// thread has left, so this waits up to 10 s for the hashing threads to stop.
struct RemoveCgroup(PathBuf);

impl Drop for RemoveCgroup {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::remove_dir(&self.0).is_err() && self.0.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[tokio::test]
async fn sign_ups_hash_in_the_configured_cgroup() {
    let name = format!("lucia-demo-test-{}", lucia::generate_random_string(10));
    let cgroup = match HashingCgroup::create_in_own_cgroup(&name) {
        Ok(cgroup) => cgroup,
        Err(e) if std::env::var_os("LUCIA_TEST_REQUIRE_CGROUP").is_none() => {
            eprintln!("skipped: no idle cgroup can be made here: {e}");
            return;
        }
        Err(e) => panic!("LUCIA_TEST_REQUIRE_CGROUP is set but no idle cgroup can be made: {e}"),
    };
    let remove = RemoveCgroup(cgroup.path().to_owned());
    let app = App::start_with(lucia_demo::Config { hashing_cgroup: Some(cgroup.clone()), ..Default::default() }).await;
    let user = unique_name();
    let credentials = json!({ "username": user, "email": email_of(&user), "password": "correct horse battery staple" });
    let response = app.api().post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let threads = hashing_threads();
    assert!(!threads.is_empty(), "the sign-up hashed on no lucia-hashing thread");
    for lines in &threads {
        assert!(lines.lines().any(|line| line.ends_with(&format!("/{name}"))), "{lines}");
    }

    // The threads end with the demo's last `Lucia`; then the empty cgroup can go.
    drop(app);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !hashing_threads().is_empty() {
        assert!(Instant::now() < deadline, "the hashing threads did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(remove);
    assert!(!cgroup.path().exists(), "{} was not removed", cgroup.path().display());
}
