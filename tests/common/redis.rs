//! The Redis tests' one way to get a `redis-server` of their own.

use pushlab::redis::process::RedisProcess;

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
