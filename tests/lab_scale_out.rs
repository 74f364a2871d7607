//! `pushlab lab --scenario scale-out`, run for real and small: one node in memory, one node with
//! Redis, two nodes sharing Redis, each with its own `redis-server` (started by the lab on a free
//! loopback port with persistence off, stopped by its PID).
//!
//! Nothing here asserts how fast anything is: the test checks that the scenario runs, that its table
//! has a complete row for every setup, that nothing was lost or repeated across the nodes, that the
//! Redis columns are filled exactly where Redis ran, and that the JSON says the same.
//!
//! Without `redis-server` the test says it was skipped; under `CI` that is a failure.

mod lab_support;

use lab_support::{cells, run_lab, scratch_dir};
use pushlab::client::json::{self, JsonValue};

/// `redis-server`, or a skip that says so; under `CI` a missing server fails instead.
fn redis_or_skip(test: &str) -> bool {
    if pushlab::lab::scale::available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: redis-server is not installed, and CI must run this test (apt-get install \
         redis-server)"
    );
    println!("SKIPPED {test}: redis-server is not installed (apt-get install redis-server)");
    false
}

#[test]
fn the_scale_out_scenario_reports_every_setup_with_nothing_lost() {
    if !redis_or_skip("the_scale_out_scenario_reports_every_setup_with_nothing_lost") {
        return;
    }
    let out = scratch_dir("lab-scale-out");
    let (output, stdout) = run_lab(
        &[
            "--quick",
            "--scenario",
            "scale-out",
            "--clients",
            "40",
            "--seed",
            "17",
        ],
        &out,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lab failed:\n{stdout}\n{stderr}");

    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("| setup |"));
    let columns = cells(lines.next().expect("the scale-out table"));
    let rows: Vec<Vec<String>> = lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(cells)
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        ["1 node, in memory", "1 node, Redis", "2 nodes, Redis"],
        "{stdout}"
    );
    let column = |name: &str| columns.iter().position(|c| c == name).expect(name);
    for row in &rows {
        assert_eq!(row.len(), columns.len(), "{row:?}");
        assert!(row.iter().all(|cell| !cell.is_empty()), "{row:?}");
        // 40 subscribers × 5 messages of the quick run.
        assert_eq!(row[column("delivered")], "200", "{row:?}");
        assert_eq!(row[column("lost")], "0", "{row:?}");
        assert_eq!(row[column("dup")], "0", "{row:?}");
        let nodes = if row[0].starts_with("2 nodes") { 2 } else { 1 };
        let node_cpu = &row[column("server CPU ms per node")];
        assert_eq!(node_cpu.split(" / ").count(), nodes, "{row:?}");
        let round_trips = &row[column("Redis round trips / msg (commands run)")];
        if row[0].ends_with("Redis") {
            let sent: f64 = round_trips
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("round trips {round_trips:?}"));
            // At least the publish itself reaches Redis for every message.
            assert!(sent >= 1.0, "{row:?}");
        } else {
            assert_eq!(round_trips, "-", "{row:?}");
        }
    }

    let text = std::fs::read_to_string(out.join("scale-out.json")).expect("scale-out.json");
    let value = json::parse(&text).expect("scale-out.json parses");
    let setups = value
        .get("scale_out")
        .and_then(|s| s.get("setups"))
        .and_then(JsonValue::as_array)
        .expect("scale_out.setups");
    assert_eq!(setups.len(), 3);
    for setup in setups {
        assert_eq!(
            setup.get("delivered").and_then(JsonValue::as_u64),
            Some(200)
        );
        assert_eq!(setup.get("duplicated").and_then(JsonValue::as_u64), Some(0));
    }
    assert!(out.join("scale-out.md").is_file());
}
