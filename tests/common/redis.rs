//! The Redis tests' one way to get a `redis-server` of their own.

use std::time::Duration;

use pushlab::redis::backend::{HOUSEKEEPING_SCRIPT, ID_FLOOR_KEY, TOPICS_KEY};
use pushlab::redis::process::{self, RedisProcess};
use pushlab::redis::resp::Reply;

/// A `redis-server` of the test's own on a free loopback port (persistence off, stopped by its PID
/// when dropped), or `None` with a SKIPPED line when none is installed. Under `CI` a missing server
/// fails the test instead: CI installs it, so a skip there would hide a test that never ran.
pub fn redis_or_skip(test: &str) -> Option<RedisProcess> {
    if !RedisProcess::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: redis-server is not installed, and CI must run this test (apt-get install redis-server)"
        );
        println!("SKIPPED {test}: redis-server is not installed (apt-get install redis-server)");
        return None;
    }
    Some(RedisProcess::start().expect("redis-server starts"))
}

/// What another node's housekeeping run sends: no topic reported in use, and at most 100 topics
/// unused for `idle` removed. Returns Redis's reply (how many went).
pub fn another_nodes_housekeeping(redis: &RedisProcess, idle: Duration) -> Reply {
    let idle_ms = idle.as_millis().to_string();
    let run = [
        "EVAL",
        HOUSEKEEPING_SCRIPT,
        "2",
        TOPICS_KEY,
        ID_FLOOR_KEY,
        &idle_ms,
        "100",
    ];
    process::command(redis.addr(), &run, Duration::from_secs(5)).expect("Redis answers")
}
