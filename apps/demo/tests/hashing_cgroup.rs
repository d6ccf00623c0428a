//! The demo's `hashing_cgroup` setting (`--hashing-cgroup` / `HASHING_CGROUP`): a sign-up
//! hashes its password on threads in that cgroup. A test binary of its own, so that every
//! `lucia-hashing` thread of the process is the demo's. Skipped with a message where no
//! cgroup can be made, unless `LUCIA_TEST_REQUIRE_CGROUP` is set.

mod common;

use common::{App, email_of, unique_name};
use lucia_adapter_test::hashing_cgroup::{TestCgroup, hashing_thread_cgroups, wait_for_hashing_threads_to_stop};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn sign_ups_hash_in_the_configured_cgroup() {
    let Some(cgroup) = TestCgroup::create("lucia-demo-test") else { return };
    let config = lucia_demo::Config { hashing_cgroup: Some(cgroup.cgroup().clone()), ..Default::default() };
    let app = App::start_with(config).await;
    let user = unique_name();
    let credentials = json!({ "username": user, "email": email_of(&user), "password": "correct horse battery staple" });
    let response = app.api().post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let threads = hashing_thread_cgroups();
    assert!(!threads.is_empty(), "the sign-up hashed on no lucia-hashing thread");
    for lines in &threads {
        assert!(cgroup.holds(lines), "{lines}");
    }

    // The threads end with the demo's last `Lucia`; then the empty cgroup can go.
    drop(app);
    wait_for_hashing_threads_to_stop().await;
    cgroup.remove();
}
