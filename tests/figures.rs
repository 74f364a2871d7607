//! The course's figures (`tutorials/figures/`) are drawn by code, and regenerate byte for byte.
//!
//! - One sequence diagram per door, from a recorded run of that door (`tutorials/figures/traces/`):
//!   a real pushlab on a loopback port, the crate's client for the door in the browser's place, and the
//!   same five messages published at the same moments (see `figures/record.rs`).
//! - One timing chart with the seven doors on one time axis, from the same seven runs.
//! - The frame layout of RFC 6455 §5.2 with the RFC's masked "Hello" decoded by pushlab, and the opening
//!   handshake with the accept value pushlab computes.
//!
//! ```text
//! cargo test --test figures                                  # check
//! PUSHLAB_FIGURES=write cargo test --test figures            # redraw the figures from the traces
//! PUSHLAB_FIGURES=record cargo test --test figures           # record new runs, then redraw
//! ```
//!
//! A figure is a function of its trace, so the check is exact. A trace holds measured times, so a new
//! recording is compared with the committed one by its shape: the same requests, answers, messages,
//! ends and publishes in the same order, whatever the milliseconds.

#[path = "figures/draw.rs"]
mod draw;
#[path = "figures/record.rs"]
mod record;
#[path = "figures/trace.rs"]
mod trace;

use std::fs;
use std::path::{Path, PathBuf};

use trace::Trace;

/// How many recordings a door gets to show the committed shape (a loaded machine can delay a client
/// past a publish; the code does not change between two runs).
const RECORDINGS: usize = 3;
const MODE_VAR: &str = "PUSHLAB_FIGURES";

fn figures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tutorials/figures")
}

fn trace_path(door: &str) -> PathBuf {
    figures_dir().join("traces").join(format!("{door}.txt"))
}

fn title(door: &str) -> String {
    let name = match door {
        "short-poll" => "Short polling",
        "long-poll" => "Long polling",
        "jsonp" => "JSONP",
        "iframe" => "The iframe forever frame",
        "xhr-stream" => "XHR streaming",
        "sse" => "Server-Sent Events",
        _ => "WebSocket",
    };
    format!("{name}: five messages, as recorded")
}

fn mode() -> String {
    std::env::var(MODE_VAR).unwrap_or_default()
}

fn committed_traces() -> Vec<Trace> {
    record::DOORS
        .iter()
        .map(|door| {
            let text = fs::read_to_string(trace_path(door))
                .unwrap_or_else(|e| panic!("{}: {e}", trace_path(door).display()));
            Trace::parse(door, &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Every figure, drawn from the committed traces: (file name, SVG).
fn drawn_figures() -> Vec<(String, String)> {
    let traces = committed_traces();
    let mut figures: Vec<(String, String)> = traces
        .iter()
        .map(|trace| {
            let svg = draw::sequence_diagram(trace, &title(&trace.door));
            (format!("{}.svg", trace.door), svg)
        })
        .collect();
    let chart = draw::timing_chart(
        &traces,
        "Seven doors, the same five messages, one time axis",
    );
    figures.push(("timing.svg".to_string(), chart));
    figures.push(("ws-frame.svg".to_string(), draw::frame_layout()));
    figures.push(("ws-handshake.svg".to_string(), draw::handshake()));
    figures
}

#[test]
fn every_figure_regenerates_byte_for_byte() {
    if mode() == "record" {
        fs::create_dir_all(figures_dir().join("traces")).expect("the figures folder");
        for door in record::DOORS {
            let trace = record::record(door).unwrap_or_else(|e| panic!("{door}: {e}"));
            fs::write(trace_path(door), trace.to_text()).expect("write a trace");
        }
    }
    let writing = matches!(mode().as_str(), "write" | "record");
    let mut stale = Vec::new();
    for (name, svg) in drawn_figures() {
        let path = figures_dir().join(&name);
        if writing {
            fs::write(&path, &svg).expect("write a figure");
        } else if fs::read_to_string(&path).ok().as_deref() != Some(svg.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "figures that no longer match their code or trace: {stale:?}; redraw them with \
         `{MODE_VAR}=write cargo test --test figures` and look at them"
    );
}

#[test]
fn each_door_still_runs_as_its_trace_shows() {
    for (door, committed) in record::DOORS.iter().zip(committed_traces()) {
        let mut last_shape = Vec::new();
        let matched = (0..RECORDINGS).any(|_| {
            let fresh = record::record(door).unwrap_or_else(|e| panic!("{door}: {e}"));
            last_shape = fresh.shape();
            last_shape == committed.shape()
        });
        assert!(
            matched,
            "{door}: a new run no longer has the committed shape; record again with \
             `{MODE_VAR}=record cargo test --test figures`\ncommitted: {:#?}\nnew: {last_shape:#?}",
            committed.shape()
        );
    }
}

#[test]
fn a_trace_survives_its_text_form() {
    let text =
        "# comment\n0 request GET /poll/news\n12 answer story 1, story 2\n300 publish story 3\n";
    let trace = Trace::parse("x", text).unwrap();
    assert_eq!(trace.events.len(), 3);
    assert_eq!(Trace::parse("x", &trace.to_text()).unwrap(), trace);
    assert!(Trace::parse("x", "soon request GET /\n").is_err());
    assert!(Trace::parse("x", "5 teleport GET /\n").is_err());
}

#[test]
fn the_sequence_diagram_shows_every_event_and_hold() {
    let text = "0 request GET /longpoll/news\n100 publish story 1\n101 answer story 1\n";
    let trace = Trace::parse("long-poll", text).unwrap();
    let svg = draw::sequence_diagram(&trace, "t");
    for needed in [
        "GET /longpoll/news",
        "publish story 1",
        "200 [story 1]",
        "101 ms",
        "#dbe9f6",
    ] {
        assert!(svg.contains(needed), "the diagram lacks {needed:?}");
    }
}

/// The figures' page shows every figure and states the schedule the recordings use.
#[test]
fn the_figures_page_shows_every_figure_and_the_schedule() {
    let page =
        fs::read_to_string(figures_dir().join("README.md")).expect("tutorials/figures/README.md");
    for (name, _) in drawn_figures() {
        assert!(
            page.contains(&format!("]({name})")),
            "the page does not show {name}"
        );
    }
    let times: Vec<String> = record::PUBLISH_MS.iter().map(u64::to_string).collect();
    let (last, first) = times.split_last().expect("five times");
    let schedule = format!("{} and {last} ms", first.join(", "));
    assert!(
        page.contains(&schedule),
        "the page does not say `{schedule}`"
    );
}

/// The chapter that teaches with each figure (`tutorials/NN-name.md` starts with `NN-`).
fn chapter_of(figure: &str) -> &'static str {
    match figure {
        "short-poll.svg" => "03-",
        "long-poll.svg" => "04-",
        "jsonp.svg" => "05-",
        "iframe.svg" => "06-",
        "xhr-stream.svg" => "07-",
        "sse.svg" => "08-",
        "ws-handshake.svg" => "09-",
        "ws-frame.svg" => "10-",
        "websocket.svg" => "11-",
        _ => "16-",
    }
}

/// Each figure stands in the chapter that teaches its flow, with a numbered caption; a door's caption
/// links the trace it was drawn from.
#[test]
fn each_figure_is_shown_in_its_chapter_with_its_source() {
    let tutorials = figures_dir().parent().expect("tutorials/").to_path_buf();
    let mut problems = Vec::new();
    for (name, _) in drawn_figures() {
        let prefix = chapter_of(&name);
        let chapter = fs::read_dir(&tutorials)
            .expect("tutorials/ is readable")
            .filter_map(|entry| entry.ok())
            .find(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
            .unwrap_or_else(|| panic!("no chapter {prefix}"));
        let text = fs::read_to_string(chapter.path()).expect("a chapter");
        let shown = text.contains(&format!("](figures/{name})\n\n*Figure "));
        let door = name.trim_end_matches(".svg");
        let traced = record::DOORS.contains(&door);
        let sourced = !traced || text.contains(&format!("](figures/traces/{door}.txt)"));
        if !shown || !sourced {
            problems.push(format!(
                "{}: {name} shown with a caption: {shown}, its trace linked: {sourced}",
                chapter.file_name().to_string_lossy()
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
