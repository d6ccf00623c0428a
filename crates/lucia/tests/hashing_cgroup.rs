//! The hashing threads in a real idle cgroup (Linux, with the right to make one: root here).
//! Skipped with a message where no cgroup can be made, unless `LUCIA_TEST_REQUIRE_CGROUP` is
//! set.

use lucia::memory::MemoryAdapter;
use lucia::{CreateUser, Lucia, NewKey, NoAttributes};
use lucia_adapter_test::hashing_cgroup::{TestCgroup, hashing_thread_cgroups, wait_for_hashing_threads_to_stop};

#[tokio::test]
async fn hashing_threads_run_in_the_idle_cgroup() {
    let Some(cgroup) = TestCgroup::create("lucia-test") else { return };
    let auth = Lucia::builder(MemoryAdapter::new()).hashing_threads(2).hashing_cgroup(cgroup.cgroup().clone()).build();
    let key = NewKey::password("email", "cgroup@example.com", "correct horse battery staple");
    auth.create_user(CreateUser::new(NoAttributes {}).with_key(key)).await.unwrap();

    let threads = hashing_thread_cgroups();
    assert_eq!(threads.len(), 2, "{threads:?}");
    for lines in &threads {
        assert!(cgroup.holds(lines), "{lines}");
    }

    // The threads end with the last `Lucia`; then the empty cgroup can go.
    drop(auth);
    wait_for_hashing_threads_to_stop().await;
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(!cgroup.holds(&own), "the test's own thread moved: {own}");
    cgroup.remove();
}
