//! Chapter 8, Server-Sent Events: model answers, including the "build it yourself" track.

/// Track, exercise 8.1: one message as an event of the event stream: `id: N`, one `data:` line per
/// line of the payload (split at CRLF, CR or LF, the three line ends of the format: one left inside a
/// value would end the field and let the payload write fields of its own), and a blank line.
pub fn sse_event(id: u64, data: &str) -> String {
    let mut out = format!("id: {id}\n");
    for line in data.split("\r\n").flat_map(|part| part.split(['\r', '\n'])) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Track, exercise 8.2: where a stream resumes: after the id in `Last-Event-ID` if it is a decimal
/// id, else after `?after=N`, else from now (`None`). The header wins: a browser reconnects to the
/// original URL, whose `after` is stale.
pub fn resume_point(last_event_id: Option<&str>, after: Option<u64>) -> Option<u64> {
    last_event_id
        .and_then(|value| value.trim().parse().ok())
        .or(after)
}

/// Exercise 8.3: a small event-stream reader for whole streams: returns each dispatched event as
/// (event type, data, last event id). Lines end in LF, CRLF or CR; a line starting with `:` is a
/// comment; `data` lines are joined with LF; a blank line dispatches when there is data; the type
/// defaults to `message` and resets after each event; the last event id persists.
pub fn parse_stream(stream: &str) -> Vec<(String, String, String)> {
    let (mut events, mut data, mut event_type, mut last_id) = (
        Vec::new(),
        Vec::<String>::new(),
        String::new(),
        String::new(),
    );
    let normalised = stream.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalised.split('\n') {
        if line.is_empty() {
            if !data.is_empty() {
                let kind = if event_type.is_empty() {
                    "message"
                } else {
                    &event_type
                };
                events.push((kind.to_string(), data.join("\n"), last_id.clone()));
            }
            data.clear();
            event_type.clear();
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "" => {} // a comment
            "data" => data.push(value.to_string()),
            "event" => event_type = value.to_string(),
            "id" if !value.contains('\0') => last_id = value.to_string(),
            _ => {}
        }
    }
    events
}
