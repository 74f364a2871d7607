//! The browser client's own unit tests (`tests/js/pushlab.test.js`, run by Node's built-in test runner) as part
//! of `cargo test`, so that the README's one test command covers `static/pushlab.js` too.
//!
//! Without `node` on `PATH` the test says that it skipped them; under CI (`CI` set) that is a failure.

use std::process::Command;

#[test]
fn pushlab_js_unit_tests_pass_in_node() {
    let root = env!("CARGO_MANIFEST_DIR");
    // The file by name and the TAP reporter by name: newer Node versions read a directory argument as
    // a file, and default to another reporter, whose summary has no "# pass N" line.
    let run = Command::new("node")
        .args(["--test", "--test-reporter=tap", "tests/js/pushlab.test.js"])
        .current_dir(root)
        .output();
    let output = match run {
        Ok(output) => output,
        Err(error) if std::env::var_os("CI").is_none() => {
            println!(
                "pushlab.js unit tests skipped: node not found ({error}); apt-get install nodejs"
            );
            return;
        }
        Err(error) => {
            panic!("node not found and CI is set: install it (apt-get install nodejs): {error}")
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node --test tests/js/pushlab.test.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The runner's summary, so a silent pass of zero tests cannot slip through.
    let passed = stdout
        .lines()
        .find_map(|line| line.strip_prefix("# pass "))
        .and_then(|count| count.trim().parse::<u32>().ok())
        .unwrap_or(0);
    assert!(
        passed >= 20,
        "expected the whole suite to run, saw {passed} passing:\n{stdout}"
    );
}
