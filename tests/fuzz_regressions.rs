//! Every input the fuzzer ever failed on, replayed on every `cargo test`, through the very properties
//! the fuzz targets check; and the seed corpus, through the same properties.
//!
//! The properties live in `fuzz/src/lib.rs` (a crate of its own, built by `cargo fuzz` with libFuzzer).
//! That file depends on nothing but `pushlab` and `std`, so this test compiles it a second time as a
//! module (`#[path]` below): one definition of each property, no copy to drift, and no dependency of
//! the main crate on the fuzz crate. A finding is a file in `fuzz/regressions/<target>/` (`fuzz/run.sh`
//! copies every crash there); the seeds are in `fuzz/corpus/<target>/` (`fuzz/run.sh --seeds` writes them,
//! with [`seeds::write_seed_corpus`]).
//!
//! A finding is fixed before its file is committed: the replay fails the suite otherwise. The one
//! pushlab bug the fuzzer found so far (`regressions/http_request/leading-empty-lines-fill-the-head`)
//! is told in `fuzz/README.md`.

#[path = "../fuzz/src/lib.rs"]
mod properties;
#[path = "fuzz_regressions/seeds.rs"]
mod seeds;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// A fuzz target's property: panics when the bytes break it.
type Property = fn(&[u8]);

/// Every fuzz target's property, by the target's name.
const TARGETS: [(&str, Property); 7] = [
    ("http_request", properties::http_request),
    ("chunked_body", properties::chunked_body),
    ("ws_server", properties::ws_server),
    ("utf8_validator", properties::utf8_validator),
    ("sse_stream", properties::sse_stream),
    ("connection_core", properties::connection_core),
    ("push_encoders", properties::push_encoders),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files in `dir`, sorted by name (none if it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    files.retain(|path| path.is_file());
    files.sort();
    files
}

/// Runs `property` on every file; returns how many ran, or the failures (file and panic message).
fn replay(property: Property, files: &[PathBuf]) -> Result<usize, Vec<String>> {
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let bytes = fs::read(file).expect("readable");
            let outcome = catch_unwind(AssertUnwindSafe(|| property(&bytes)));
            let panic = outcome.err()?;
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Some(format!("{}: {message}", file.display()))
        })
        .collect();
    if failures.is_empty() {
        Ok(files.len())
    } else {
        Err(failures)
    }
}

#[test]
fn every_committed_finding_passes_its_property() {
    let mut failures = Vec::new();
    for (target, property) in TARGETS {
        let files = files_in(&fuzz_dir().join("regressions").join(target));
        match replay(property, &files) {
            Ok(count) => println!("{target}: {count} findings replayed"),
            Err(failed) => failures.extend(failed),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_seed_passes_its_property() {
    let mut failures = Vec::new();
    for (target, property) in TARGETS {
        let files = files_in(&fuzz_dir().join("corpus").join(target));
        assert!(
            !files.is_empty(),
            "no seeds for {target}: fuzz/run.sh --seeds"
        );
        match replay(property, &files) {
            Ok(count) => println!("{target}: {count} seeds"),
            Err(failed) => failures.extend(failed),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus/ (run it with fuzz/run.sh --seeds)"]
fn write_seed_corpus() {
    let written = seeds::write_seed_corpus(Path::new(env!("CARGO_MANIFEST_DIR")));
    for (target, count) in written {
        println!("{target}: {count} seeds");
    }
}
