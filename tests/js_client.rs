//! The browser client's own unit tests (`tests/js/pushlab.test.js`, run by Node's built-in test runner) as part
//! of `cargo test`, so that the README's one test command covers `static/pushlab.js` too.
//!
//! Without `node` on `PATH` the test says that it skipped them; under CI (`CI` set) that is a failure.
//! A run that does not finish within [`NODE_RUN_LIMIT`] is stopped and fails, rather than holding up
//! the whole `cargo test`.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The whole suite takes about 1.5 s; this is ample on a loaded machine and still ends a hung run.
const NODE_RUN_LIMIT: Duration = Duration::from_secs(120);

/// Runs `command` with no input, collects its output, and kills it past `limit`.
fn output_within(command: &mut Command, limit: Duration) -> std::io::Result<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drained on their own threads, so a chatty child never blocks on a full pipe.
    let mut pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    })
    .into_iter();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = pipes.next().map(|t| t.join().unwrap_or_default());
            panic!(
                "node did not finish within {limit:?}; its output so far:\n{}",
                String::from_utf8_lossy(&stdout.unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut next = || {
        pipes
            .next()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    };
    Ok(Output {
        status,
        stdout: next(),
        stderr: next(),
    })
}

#[test]
fn pushlab_js_unit_tests_pass_in_node() {
    let root = env!("CARGO_MANIFEST_DIR");
    // The file by name and the TAP reporter by name: newer Node versions read a directory argument as
    // a file, and default to another reporter, whose summary has no "# pass N" line.
    let run = output_within(
        Command::new("node")
            .args(["--test", "--test-reporter=tap", "tests/js/pushlab.test.js"])
            .current_dir(root),
        NODE_RUN_LIMIT,
    );
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
        passed >= 30,
        "expected the whole suite to run, saw {passed} passing:\n{stdout}"
    );
}
