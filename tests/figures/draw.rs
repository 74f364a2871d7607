//! The figures, drawn with the lab's SVG writer (`pushlab::lab::svg`) from recorded runs and from the
//! crate's own codec, so that none is drawn by hand.

use pushlab::lab::svg::{Svg, PALETTE};

use super::trace::{Kind, Trace};

const WIDTH: f64 = 760.0;
const TIME_X: f64 = 50.0;
const BROWSER_X: f64 = 170.0;
const SERVER_X: f64 = 450.0;
const HUB_X: f64 = 680.0;
const TOP: f64 = 80.0;
/// Pixels per millisecond on the time axis, and the least room between two events.
const MS_SCALE: f64 = 0.3;
const MIN_STEP: f64 = 17.0;
const REQUEST_COLOUR: &str = PALETTE[0];
const PUBLISH_COLOUR: &str = PALETTE[1];
const DELIVERY_COLOUR: &str = PALETTE[2];
const END_COLOUR: &str = PALETTE[7];
const HOLD_FILL: &str = "#dbe9f6";

/// A horizontal arrow from `x1` to `x2` at `y`, with its head at `x2`.
fn arrow(svg: &mut Svg, x1: f64, x2: f64, y: f64, colour: &str) {
    svg.polyline(&[(x1, y), (x2, y)], colour);
    let back = if x2 > x1 { -7.0 } else { 7.0 };
    svg.polyline(
        &[(x2 + back, y - 4.0), (x2, y), (x2 + back, y + 4.0)],
        colour,
    );
}

/// Each event's height in the figure: its time on the axis, pushed down just enough that no two
/// labels overlap (the left column prints the real times).
fn event_heights(trace: &Trace) -> Vec<f64> {
    let mut heights = Vec::with_capacity(trace.events.len());
    let mut previous = f64::MIN;
    for event in &trace.events {
        let y = (TOP + 20.0 + event.at_ms as f64 * MS_SCALE).max(previous + MIN_STEP);
        heights.push(y);
        previous = y;
    }
    heights
}

/// A sequence diagram of one door's run: browser, server and hub lifelines; requests, the time the
/// server holds each, publishes, deliveries, ends and reconnects.
pub fn sequence_diagram(trace: &Trace, title: &str) -> String {
    let heights = event_heights(trace);
    let bottom = heights.last().copied().unwrap_or(TOP) + 40.0;
    let mut svg = Svg::new(WIDTH, bottom + 40.0, title);
    for (x, name) in [
        (TIME_X, "time"),
        (BROWSER_X, "browser (client)"),
        (SERVER_X, "server (door)"),
        (HUB_X, "hub"),
    ] {
        svg.text(x, TOP - 20.0, "middle", name);
    }
    for x in [BROWSER_X, SERVER_X, HUB_X] {
        svg.line(x, TOP - 10.0, x, bottom);
    }
    // The server's holds first, so the arrows are drawn over them.
    let mut held_since = None;
    for (event, &y) in trace.events.iter().zip(&heights) {
        match event.kind {
            Kind::Request => held_since = Some(y),
            kind if kind.ends_hold() => {
                if let Some(start) = held_since.take() {
                    svg.rect(SERVER_X - 6.0, start, 12.0, y - start, HOLD_FILL);
                }
            }
            _ => {}
        }
    }
    if let Some(start) = held_since {
        svg.rect(SERVER_X - 6.0, start, 12.0, bottom - start, HOLD_FILL);
    }
    for (event, &y) in trace.events.iter().zip(&heights) {
        svg.text(TIME_X, y + 4.0, "middle", &format!("{} ms", event.at_ms));
        let label = &event.label;
        let between = (BROWSER_X + SERVER_X) / 2.0;
        match event.kind {
            Kind::Request => {
                arrow(&mut svg, BROWSER_X, SERVER_X - 6.0, y, REQUEST_COLOUR);
                svg.text(between, y - 3.0, "middle", label);
            }
            Kind::Close => {
                arrow(&mut svg, BROWSER_X, SERVER_X - 6.0, y, END_COLOUR);
                svg.text(between, y - 3.0, "middle", label);
            }
            Kind::Open | Kind::Message | Kind::Answer => {
                arrow(&mut svg, SERVER_X - 6.0, BROWSER_X, y, DELIVERY_COLOUR);
                let text = match event.kind {
                    Kind::Open => format!("{label} (held open)"),
                    Kind::Answer => format!("200 [{label}]"),
                    _ => label.clone(),
                };
                svg.text(between, y - 3.0, "middle", &text);
            }
            Kind::End => {
                arrow(&mut svg, SERVER_X - 6.0, BROWSER_X, y, END_COLOUR);
                svg.text(between, y - 3.0, "middle", label);
            }
            Kind::Publish => {
                arrow(&mut svg, HUB_X, SERVER_X + 6.0, y, PUBLISH_COLOUR);
                svg.text(
                    (SERVER_X + HUB_X) / 2.0,
                    y - 3.0,
                    "middle",
                    &format!("publish {label}"),
                );
            }
        }
    }
    let legend = "blue: requests · green: what the browser receives · orange: publishes";
    svg.text(WIDTH / 2.0, bottom + 14.0, "middle", legend);
    let legend = "grey: ends and drops · shaded: the server holds the request";
    svg.text(WIDTH / 2.0, bottom + 30.0, "middle", legend);
    svg.finish()
}

/// The seven doors on one time axis for the same five messages: when each was published (grey lines),
/// when each door delivered it (a mark), and each request the door made (a tick under its row).
pub fn timing_chart(traces: &[Trace], title: &str) -> String {
    const LEFT: f64 = 110.0;
    const ROW: f64 = 34.0;
    let last_ms = traces
        .iter()
        .flat_map(|trace| trace.events.iter().map(|event| event.at_ms))
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_width = WIDTH - LEFT - 30.0;
    let x = |ms: u64| LEFT + ms as f64 / last_ms as f64 * plot_width;
    let bottom = TOP + ROW * traces.len() as f64;
    let mut svg = Svg::new(WIDTH, bottom + 70.0, title);
    if let Some(first) = traces.first() {
        for event in first.events.iter().filter(|e| e.kind == Kind::Publish) {
            svg.line(x(event.at_ms), TOP - 12.0, x(event.at_ms), bottom);
            svg.text(x(event.at_ms), TOP - 16.0, "middle", &event.label);
        }
    }
    for (row, trace) in traces.iter().enumerate() {
        let y = TOP + ROW * row as f64;
        svg.text(LEFT - 8.0, y + ROW / 2.0 + 4.0, "end", &trace.door);
        svg.line(LEFT, y + ROW - 2.0, WIDTH - 30.0, y + ROW - 2.0);
        for event in &trace.events {
            let at = x(event.at_ms);
            match event.kind {
                Kind::Request => svg.rect(at - 1.0, y + ROW - 8.0, 2.0, 6.0, REQUEST_COLOUR),
                Kind::Message => svg.rect(at - 2.0, y + 6.0, 4.0, 14.0, DELIVERY_COLOUR),
                Kind::Answer if event.label != "empty" => {
                    // One mark per message the answer carried.
                    for n in 0..event.label.split(", ").count() {
                        svg.rect(
                            at - 2.0 + 5.0 * n as f64,
                            y + 6.0,
                            4.0,
                            14.0,
                            DELIVERY_COLOUR,
                        );
                    }
                }
                _ => {}
            }
        }
    }
    for ms in (0..=last_ms).step_by(250) {
        svg.line(x(ms), bottom, x(ms), bottom + 5.0);
        svg.text(x(ms), bottom + 18.0, "middle", &format!("{ms} ms"));
    }
    let legend = "grey lines: publishes · green marks: deliveries · blue ticks: requests";
    svg.text(WIDTH / 2.0, bottom + 45.0, "middle", legend);
    svg.finish()
}

/// One field of the frame layout: the bits it spans and its name.
struct Field {
    first_bit: u32,
    bits: u32,
    name: &'static str,
}

/// The base framing protocol of RFC 6455 §5.2, 32 bits a row, with the RFC's own masked "Hello"
/// (§5.7) decoded by pushlab's `decode_header` underneath.
pub fn frame_layout() -> String {
    const BIT: f64 = 20.0;
    const LEFT: f64 = 60.0;
    const ROW: f64 = 44.0;
    let fields = [
        Field {
            first_bit: 0,
            bits: 1,
            name: "FIN",
        },
        Field {
            first_bit: 1,
            bits: 1,
            name: "RSV1",
        },
        Field {
            first_bit: 2,
            bits: 1,
            name: "RSV2",
        },
        Field {
            first_bit: 3,
            bits: 1,
            name: "RSV3",
        },
        Field {
            first_bit: 4,
            bits: 4,
            name: "opcode (4)",
        },
        Field {
            first_bit: 8,
            bits: 1,
            name: "MASK",
        },
        Field {
            first_bit: 9,
            bits: 7,
            name: "payload len (7)",
        },
        Field {
            first_bit: 16,
            bits: 16,
            name: "extended payload length (16 or 64)",
        },
        Field {
            first_bit: 32,
            bits: 32,
            name: "extended payload length, continued, if len = 127",
        },
        Field {
            first_bit: 64,
            bits: 16,
            name: "... continued, if len = 127",
        },
        Field {
            first_bit: 80,
            bits: 16,
            name: "masking key (32), if MASK = 1",
        },
        Field {
            first_bit: 96,
            bits: 16,
            name: "masking key, continued",
        },
        Field {
            first_bit: 112,
            bits: 16,
            name: "payload data ...",
        },
        Field {
            first_bit: 128,
            bits: 32,
            name: "payload data, continued ...",
        },
    ];
    let mut svg = Svg::new(
        WIDTH,
        TOP + ROW * 5.0 + 150.0,
        "RFC 6455 §5.2: a WebSocket frame, 32 bits a row",
    );
    for bit in (0..32).step_by(8) {
        svg.text(
            LEFT + BIT * f64::from(bit) + 4.0,
            TOP - 8.0,
            "start",
            &bit.to_string(),
        );
    }
    for (n, field) in fields.iter().enumerate() {
        let (row, column) = (field.first_bit / 32, field.first_bit % 32);
        let (x, y) = (LEFT + BIT * f64::from(column), TOP + ROW * f64::from(row));
        let width = BIT * f64::from(field.bits);
        let fill = if n % 2 == 0 { "#dbe9f6" } else { "#fde9d9" };
        svg.rect(x + 1.0, y + 1.0, width - 2.0, ROW - 2.0, fill);
        if field.bits == 1 {
            // A one-bit field's name does not fit across: write it letter by letter, top down.
            for (i, letter) in field.name.chars().enumerate() {
                let letter = letter.to_string();
                svg.text(x + BIT / 2.0, y + 11.0 + 9.0 * i as f64, "middle", &letter);
            }
        } else {
            svg.text(x + width / 2.0, y + ROW / 2.0 + 4.0, "middle", field.name);
        }
    }
    let example: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let bytes: Vec<String> = example.iter().map(|b| format!("{b:02x}")).collect();
    let mut y = TOP + ROW * 5.0 + 20.0;
    svg.text(
        LEFT,
        y,
        "start",
        &format!(
            "RFC 6455 §5.7, a masked \"Hello\" from a client: {}",
            bytes.join(" ")
        ),
    );
    let lines = match pushlab::ws::frame::decode_header(&example) {
        Ok(Some((header, header_len))) => {
            let mut payload = example[header_len..].to_vec();
            if let Some(key) = header.mask {
                pushlab::ws::frame::apply_mask(&mut payload, key, 0);
            }
            vec![
                format!(
                    "FIN = {}, opcode = {:?}, MASK = {}",
                    u8::from(header.fin),
                    header.opcode,
                    u8::from(header.mask.is_some())
                ),
                format!(
                    "payload len = {} (7 bits: no extended length), header = {header_len} bytes",
                    header.payload_len
                ),
                format!("masking key = {:02x?}", header.mask.unwrap_or_default()),
                format!(
                    "payload = {:?} after XOR with key byte i % 4 (§5.3)",
                    String::from_utf8_lossy(&payload)
                ),
            ]
        }
        other => vec![format!("decode_header: {other:?}")],
    };
    for line in lines {
        y += 20.0;
        svg.text(LEFT + 20.0, y, "start", &line);
    }
    svg.finish()
}

/// The opening handshake of RFC 6455 §4: the request, the server's computation, the `101`, with the
/// RFC's example key and the accept value pushlab computes for it.
pub fn handshake() -> String {
    const LINE: f64 = 16.0;
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let accept = pushlab::ws::handshake::accept_key(key);
    let request = [
        "GET /ws/echo HTTP/1.1".to_string(),
        "Host: 127.0.0.1:8080".to_string(),
        "Upgrade: websocket".to_string(),
        "Connection: Upgrade".to_string(),
        format!("Sec-WebSocket-Key: {key}"),
        "Sec-WebSocket-Version: 13".to_string(),
        "Origin: http://127.0.0.1:8080".to_string(),
    ];
    let compute = [
        "check: GET, HTTP/1.1, Upgrade, Connection,".to_string(),
        "version 13, a key of 16 bytes, the Origin (§4.2.1)".to_string(),
        "accept = base64(SHA-1(key + GUID)), with".to_string(),
        format!("GUID = {}", pushlab::ws::handshake::WEBSOCKET_GUID),
    ];
    let response = [
        "HTTP/1.1 101 Switching Protocols".to_string(),
        "Upgrade: websocket".to_string(),
        "Connection: Upgrade".to_string(),
        format!("Sec-WebSocket-Accept: {accept}"),
    ];
    let height = TOP + LINE * (request.len() + compute.len() + response.len()) as f64 + 150.0;
    let mut svg = Svg::new(WIDTH, height, "RFC 6455 §4: the opening handshake");
    svg.text(BROWSER_X - 60.0, TOP - 20.0, "middle", "browser");
    svg.text(SERVER_X + 140.0, TOP - 20.0, "middle", "server");
    let (left, right) = (BROWSER_X - 60.0, SERVER_X + 140.0);
    svg.line(left, TOP - 10.0, left, height - 20.0);
    svg.line(right, TOP - 10.0, right, height - 20.0);
    let mut y = TOP + 10.0;
    arrow(&mut svg, left, right, y, REQUEST_COLOUR);
    for line in &request {
        y += LINE;
        svg.text(left + 15.0, y, "start", line);
    }
    y += LINE;
    for line in &compute {
        y += LINE;
        svg.text(right - 10.0, y, "end", line);
    }
    y += LINE;
    arrow(&mut svg, right, left, y, DELIVERY_COLOUR);
    for line in &response {
        y += LINE;
        svg.text(left + 15.0, y, "start", line);
    }
    y += LINE * 2.0;
    arrow(&mut svg, left, right, y, REQUEST_COLOUR);
    arrow(&mut svg, right, left, y + 8.0, DELIVERY_COLOUR);
    svg.text(
        (left + right) / 2.0,
        y + 26.0,
        "middle",
        "then frames, both ways, on the same TCP connection (§5)",
    );
    svg.finish()
}
