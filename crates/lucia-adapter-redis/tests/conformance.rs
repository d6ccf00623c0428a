//! The session-adapter conformance suite on a single Redis server and on a Redis Cluster.

mod common;

use common::{Deployment, RedisFixture};

mod redis_single {
    lucia_adapter_test::session_adapter_tests!(crate::RedisFixture::new(crate::Deployment::Single));
}

mod redis_cluster {
    lucia_adapter_test::session_adapter_tests!(crate::RedisFixture::new(crate::Deployment::Cluster));
}
