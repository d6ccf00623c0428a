//! An idle cgroup for one test's password hashing threads ([`lucia::HashingCgroup`]), removed
//! when the test ends, and where this process's hashing threads are. For a test binary of its
//! own: every `lucia-hashing` thread of the process is then the test's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lucia::HashingCgroup;

/// An idle cgroup made for one test below the process's own `cpu` cgroup, removed on drop (a
/// failed test's too).
#[derive(Debug)]
pub struct TestCgroup {
    cgroup: HashingCgroup,
    name: String,
}

impl TestCgroup {
    /// A new cgroup named `prefix` and a random suffix, or `None` with a message where none
    /// can be made (no root, no delegated cgroup, not Linux). With `LUCIA_TEST_REQUIRE_CGROUP`
    /// set (`.ci/run` sets it where cgroups can be made) a refusal panics instead.
    pub fn create(prefix: &str) -> Option<Self> {
        let name = format!("{prefix}-{}", lucia::generate_random_string(10));
        match HashingCgroup::create_in_own_cgroup(&name) {
            Ok(cgroup) => Some(Self { cgroup, name }),
            Err(e) if std::env::var_os("LUCIA_TEST_REQUIRE_CGROUP").is_none() => {
                eprintln!("skipped: no idle cgroup can be made here: {e}");
                None
            }
            Err(e) => panic!("LUCIA_TEST_REQUIRE_CGROUP is set but no idle cgroup can be made: {e}"),
        }
    }

    /// The cgroup, for [`LuciaBuilder::hashing_cgroup`](lucia::LuciaBuilder::hashing_cgroup).
    pub fn cgroup(&self) -> &HashingCgroup {
        &self.cgroup
    }

    /// Whether the text of a `/proc/…/cgroup` file places its thread in this cgroup.
    pub fn holds(&self, cgroup_file: &str) -> bool {
        cgroup_file.lines().any(|line| line.ends_with(&format!("/{}", self.name)))
    }

    /// Removes the cgroup (its threads must have stopped: [`wait_for_hashing_threads_to_stop`]),
    /// and panics if it is still there.
    pub fn remove(self) {
        let path = self.cgroup.path().to_owned();
        drop(self);
        assert!(!path.exists(), "{} was not removed", path.display());
    }
}

impl Drop for TestCgroup {
    /// A cgroup can go once its last thread has left: waits up to 10 s for that.
    fn drop(&mut self) {
        let path: PathBuf = self.cgroup.path().to_owned();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::remove_dir(&path).is_err() && path.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The `/proc/self/task/<id>/cgroup` text of each of this process's threads named
/// `lucia-hashing`.
pub fn hashing_thread_cgroups() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|task| {
            let dir = task.ok()?.path();
            let name = std::fs::read_to_string(dir.join("comm")).ok()?;
            (name.trim() == "lucia-hashing").then(|| std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default())
        })
        .collect()
}

/// Waits for this process's hashing threads to stop (they end with the last clone of their
/// `Lucia`), and panics if some still run after 30 s.
pub async fn wait_for_hashing_threads_to_stop() {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !hashing_thread_cgroups().is_empty() {
        assert!(Instant::now() < deadline, "the hashing threads did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
