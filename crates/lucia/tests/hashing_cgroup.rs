//! The hashing threads in a real idle cgroup (Linux, with the right to make one: root here).
//! Skipped with a message where no cgroup can be made, unless `LUCIA_TEST_REQUIRE_CGROUP` is
//! set.

use std::time::{Duration, Instant};

use lucia::memory::MemoryAdapter;
use lucia::{CreateUser, HashingCgroup, Lucia, NewKey, NoAttributes};

/// The ids of this process's threads named `lucia-hashing`, with their cgroup lines.
fn hashing_threads() -> Vec<(String, String)> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|task| {
            let dir = task.ok()?.path();
            let name = std::fs::read_to_string(dir.join("comm")).ok()?;
            (name.trim() == "lucia-hashing").then(|| {
                let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                (id, std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default())
            })
        })
        .collect()
}

#[tokio::test]
async fn hashing_threads_run_in_the_idle_cgroup() {
    let name = format!("lucia-test-{}", lucia::generate_random_string(10));
    let cgroup = match HashingCgroup::create_in_own_cgroup(&name) {
        Ok(cgroup) => cgroup,
        Err(e) if std::env::var_os("LUCIA_TEST_REQUIRE_CGROUP").is_none() => {
            eprintln!("skipped: no idle cgroup can be made here: {e}");
            return;
        }
        Err(e) => panic!("LUCIA_TEST_REQUIRE_CGROUP is set but no idle cgroup can be made: {e}"),
    };
    let auth = Lucia::builder(MemoryAdapter::new()).hashing_threads(2).hashing_cgroup(cgroup.clone()).build();
    let key = NewKey::password("email", "cgroup@example.com", "correct horse battery staple");
    auth.create_user(CreateUser::new(NoAttributes {}).with_key(key)).await.unwrap();

    let threads = hashing_threads();
    assert_eq!(threads.len(), 2, "{threads:?}");
    for (id, cgroup) in &threads {
        assert!(cgroup.lines().any(|line| line.ends_with(&format!("/{name}"))), "thread {id}: {cgroup}");
    }

    // The threads end with the last `Lucia`; then the empty cgroup can go.
    drop(auth);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hashing_threads().is_empty() {
        assert!(Instant::now() < deadline, "the hashing threads did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let line = own.lines().find(|line| line.ends_with(&format!("/{name}")));
    assert!(line.is_none(), "the test's own thread moved: {line:?}");
    std::fs::remove_dir(cgroup.path()).unwrap_or_else(|e| panic!("{}: {e}", cgroup.path().display()));
}
