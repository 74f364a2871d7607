// Unit tests of static/pushlab.js in Node, no dependency: `node --test tests/js/pushlab.test.js`.
//
// The pure helpers are tested directly. The channel's policy (auto fallback, resume by id, duplicates,
// resets, backoff, send) is tested against fake WebSocket, EventSource and fetch objects that the test
// drives by hand; the real transports in a real browser are tested by tests/browser.rs.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const pushlab = require("../../static/pushlab.js");
const {
  backoffDelayMs, Cursor, LineSplitter, parseStreamLine, buildUrl, toWebSocketUrl, resetFromSse, isMessage,
  serverOrigin, isFromFrame,
} = pushlab._internal;

// ------------------------------------------------------------------------------------------------
// Pure helpers
// ------------------------------------------------------------------------------------------------

test("backoff doubles from the base, stays in the upper half of its ceiling, and is capped", () => {
  const low = () => 0, high = () => 1;
  assert.equal(backoffDelayMs(0, 250, 10000, low), 125);
  assert.equal(backoffDelayMs(0, 250, 10000, high), 250);
  assert.equal(backoffDelayMs(1, 250, 10000, high), 500);
  assert.equal(backoffDelayMs(3, 250, 10000, low), 1000);
  assert.equal(backoffDelayMs(6, 250, 10000, high), 10000, "capped at 10 s");
  assert.equal(backoffDelayMs(500, 250, 10000, high), 10000, "a huge attempt count does not overflow");
  for (let i = 0; i < 100; i++) {
    const d = backoffDelayMs(2, 250, 10000);
    assert.ok(d >= 500 && d <= 1000, "jitter stays within [ceiling/2, ceiling]: " + d);
  }
});

test("the cursor accepts increasing ids once and drops duplicates and id-less objects", () => {
  const cursor = new Cursor(null);
  assert.equal(cursor.last, null);
  assert.equal(cursor.accept(undefined), false, "a heartbeat has no id");
  assert.equal(cursor.accept(7), true);
  assert.equal(cursor.accept(7), false, "the same id again");
  assert.equal(cursor.accept(6), false, "an older id");
  assert.equal(cursor.accept(9), true);
  assert.equal(cursor.last, 9);
  assert.equal(new Cursor(0).last, 0, "after=0 is a real id, not 'none'");
  assert.equal(new Cursor("12").last, 12);
});

test("the cursor advances to a poll answer's last only forwards, and a reset only moves it back", () => {
  const cursor = new Cursor(10);
  cursor.advanceTo(8);
  assert.equal(cursor.last, 10);
  cursor.advanceTo(15);
  assert.equal(cursor.last, 15);
  cursor.reset(20); // the server continues after 20: ids 16.. were lost, 21 and later are new
  assert.equal(cursor.last, 15);
  assert.equal(cursor.accept(21), true);
  cursor.reset(3); // ids restarted lower (another server): accept what comes after 3
  assert.equal(cursor.last, 3);
  assert.equal(cursor.accept(4), true);
});

test("the line splitter keeps a line cut between chunks until its end arrives", () => {
  const lines = new LineSplitter();
  assert.deepEqual(lines.push('{"id":1,"da'), []);
  assert.deepEqual(lines.push('ta":"a"}\n{"id":2'), ['{"id":1,"data":"a"}']);
  assert.deepEqual(lines.push(',"data":"b"}\r\n\n'), ['{"id":2,"data":"b"}', ""], "CRLF and blank lines");
  assert.equal(lines.pending, "");
});

test("stream lines: padding and blank lines are skipped, JSON objects parsed, broken JSON rejected", () => {
  assert.equal(parseStreamLine(" ".repeat(2048)), null);
  assert.equal(parseStreamLine(""), null);
  assert.deepEqual(parseStreamLine("{}"), {});
  assert.deepEqual(parseStreamLine(' {"id":3,"data":"x"} '), { id: 3, data: "x" });
  assert.throws(() => parseStreamLine('{"id":3,'));
});

test("URLs carry after only when known, and WebSocket URLs switch scheme", () => {
  assert.equal(buildUrl("", "poll", "chat", { after: null }), "/poll/chat");
  assert.equal(buildUrl("", "poll", "chat", { after: 0 }), "/poll/chat?after=0");
  assert.equal(buildUrl("http://h:1", "jsonp", "t", { after: 5, callback: "__pushlab_cb_1" }),
    "http://h:1/jsonp/t?after=5&callback=__pushlab_cb_1");
  assert.equal(toWebSocketUrl("/ws/chat?after=3", "http://127.0.0.1:8080/chat.html"),
    "ws://127.0.0.1:8080/ws/chat?after=3");
  assert.equal(toWebSocketUrl("https://x.test/ws/a", "http://other/"), "wss://x.test/ws/a");
});

test("only an object with a numeric id is a message: padding, heartbeats and resets are not", () => {
  assert.equal(isMessage({ id: 3, data: "x" }), true);
  assert.equal(isMessage({ id: 0, data: "" }), true);
  for (const other of [null, undefined, "x", {}, { heartbeat: true }, { padding: "   " }, { reset: true, last: 4 },
    { id: "3" }, { id: NaN }]) {
    assert.equal(isMessage(other), false, JSON.stringify(other));
  }
});

test("the iframe listener's checks: the server's origin and our own frame's window, both", () => {
  assert.equal(serverOrigin("", "http://127.0.0.1:8080/chat.html"), "http://127.0.0.1:8080");
  assert.equal(serverOrigin("https://push.example:8443", "http://127.0.0.1:8080/"), "https://push.example:8443");
  const ours = {}, other = {};
  const origin = "http://127.0.0.1:8080";
  assert.equal(isFromFrame({ source: ours, origin }, ours, origin), true);
  assert.equal(isFromFrame({ source: other, origin }, ours, origin), false, "another window");
  assert.equal(isFromFrame({ source: ours, origin: "http://evil.example" }, ours, origin), false, "another origin");
  assert.equal(isFromFrame({ source: null, origin }, null, origin), false, "no frame (yet, or any more)");
});

test("an SSE reset event's data may be a number or an object", () => {
  assert.deepEqual(resetFromSse("41"), { reset: true, last: 41 });
  assert.deepEqual(resetFromSse('{"reset":true,"last":41}'), { reset: true, last: 41 });
  assert.deepEqual(resetFromSse("nonsense"), { reset: true, last: null });
});

// ------------------------------------------------------------------------------------------------
// The channel, over fake browser objects
// ------------------------------------------------------------------------------------------------

const sockets = [];
class FakeWebSocket {
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    sockets.push(this);
  }
  send(text) { this.sent.push(text); }
  close() { this.readyState = 3; }
  // test side
  open() { this.readyState = 1; this.onopen && this.onopen({}); }
  frame(obj) { this.onmessage && this.onmessage({ data: JSON.stringify(obj) }); }
  drop(code) { this.readyState = 3; this.onclose && this.onclose({ code, reason: "" }); }
}

FakeWebSocket.CONNECTING = 0;
FakeWebSocket.OPEN = 1;
FakeWebSocket.CLOSING = 2;
FakeWebSocket.CLOSED = 3;

const sources = [];
class FakeEventSource {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.listeners = {};
    sources.push(this);
  }
  addEventListener(name, fn) { this.listeners[name] = fn; }
  close() { this.readyState = 2; }
  // test side
  open() { this.readyState = 1; this.onopen && this.onopen({}); }
  message(id, data) { this.onmessage({ lastEventId: String(id), data }); }
  // The server's `event: heartbeat` with an empty `data:` line, as the browser dispatches it.
  heartbeat() { this.listeners.heartbeat && this.listeners.heartbeat({ type: "heartbeat", data: "", lastEventId: "" }); }
  fail() { this.readyState = 2; this.onerror && this.onerror({}); }
}
FakeEventSource.CONNECTING = 0;
FakeEventSource.OPEN = 1;
FakeEventSource.CLOSED = 2;

const fetches = [];
function fakeFetch(url, init) {
  return new Promise((resolve, reject) => {
    fetches.push({ url, init, resolve, reject });
    // Like the real one: aborting the signal rejects the request.
    if (init && init.signal) init.signal.addEventListener("abort", () => reject(new Error("aborted")));
  });
}
function answer(request, body) {
  const text = JSON.stringify(body);
  request.resolve({ ok: true, status: 200, text: () => Promise.resolve(text), json: () => Promise.resolve(body) });
}

globalThis.WebSocket = FakeWebSocket;
globalThis.EventSource = FakeEventSource;
globalThis.fetch = fakeFetch;
globalThis.location = { href: "http://127.0.0.1:8080/chat.html", origin: "http://127.0.0.1:8080" };

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
function reset() { sockets.length = 0; sources.length = 0; fetches.length = 0; }

/** A channel that records every callback as [name, event]. */
function recorded(topic, options) {
  const ch = pushlab.connect(topic, options);
  const events = [];
  for (const name of ["open", "message", "reset", "error", "close", "transportchange"]) {
    ch["on" + name] = (ev) => events.push([name, ev]);
  }
  return { ch, events, names: () => events.map((e) => e[0]) };
}

test("auto mode: a WebSocket closed before open falls back to SSE, which then delivers", async () => {
  reset();
  const { ch, events } = recorded("chat", {});
  await tick();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, "ws://127.0.0.1:8080/ws/chat");
  sockets[0].drop(1006);
  assert.equal(ch.transport, "sse");
  assert.equal(sources.length, 1);
  assert.equal(sources[0].url, "/sse/chat", "no id known yet: from now");
  sources[0].open();
  sources[0].message(5, "a");
  sources[0].message(5, "a again"); // a duplicate: dropped
  sources[0].message(6, "b");
  const changes = events.filter((e) => e[0] === "transportchange").map((e) => [e[1].from, e[1].to]);
  assert.deepEqual(changes, [[null, "websocket"], ["websocket", "sse"]]);
  assert.deepEqual(events.filter((e) => e[0] === "message").map((e) => [e[1].id, e[1].data]), [[5, "a"], [6, "b"]]);
  assert.equal(events.filter((e) => e[0] === "error").length, 0, "a fallback is not an error");
  assert.equal(ch.state, "open");
  ch.close();
});

test("auto mode: no open within the timeout, twice, ends on long polling", async () => {
  reset();
  const { ch, events } = recorded("t", { openTimeoutMs: 20 });
  await tick(40); // the WebSocket never opens
  assert.equal(ch.transport, "sse");
  sources[0].fail(); // SSE fails before open
  assert.equal(ch.transport, "longpoll");
  await tick();
  assert.equal(fetches.length, 1);
  assert.equal(fetches[0].url, "/poll/t", "long polling first catches up with a short poll");
  answer(fetches[0], { messages: [], last: 100 });
  await tick();
  assert.equal(ch.state, "open");
  assert.equal(fetches[1].url, "/longpoll/t?after=100", "then holds after the head it learned");
  answer(fetches[1], { messages: [{ id: 101, data: "x" }], last: 101 });
  await tick();
  assert.equal(fetches[2].url, "/longpoll/t?after=101", "and asks again at once");
  assert.deepEqual(events.filter((e) => e[0] === "transportchange").map((e) => e[1].to),
    ["websocket", "sse", "longpoll"]);
  assert.equal(ch.stats.messages, 1);
  ch.close();
});

test("auto mode sticks to a transport that opened once: a later drop reconnects it with backoff", async () => {
  reset();
  const { ch, events } = recorded("t", { backoffBaseMs: 10, backoffMaxMs: 40 });
  await tick();
  sockets[0].open();
  sockets[0].frame({ id: 41, data: "a" });
  sockets[0].drop(1001);
  assert.equal(ch.transport, "websocket", "no fallback after a successful open");
  assert.equal(ch.state, "reconnecting");
  const close = events.find((e) => e[0] === "close")[1];
  assert.equal(close.reconnecting, true);
  assert.ok(close.delayMs >= 5 && close.delayMs <= 10, "first delay within [base/2, base]");
  assert.ok(events.some((e) => e[0] === "error"));
  await tick(20);
  assert.equal(sockets.length, 2);
  assert.equal(sockets[1].url, "ws://127.0.0.1:8080/ws/t?after=41", "resumes after the last id");
  sockets[1].open();
  sockets[1].frame({ id: 41, data: "a" }); // replayed twice by a confused server: dropped
  sockets[1].frame({ id: 42, data: "b" });
  assert.deepEqual(events.filter((e) => e[0] === "message").map((e) => e[1].id), [41, 42]);
  const opens = events.filter((e) => e[0] === "open").map((e) => e[1].reconnect);
  assert.deepEqual(opens, [false, true]);
  assert.equal(ch.stats.reconnects, 1);
  ch.close();
});

test("backoff grows while reconnects keep failing, and resets after an open", async () => {
  reset();
  const { ch, events } = recorded("t", { transport: "websocket", backoffBaseMs: 8, backoffMaxMs: 1000 });
  await tick();
  sockets[0].drop(1006); // forced transport: no fallback, retry
  await tick(20);
  sockets[1].drop(1006);
  await tick(40);
  sockets[2].drop(1006);
  const delays = events.filter((e) => e[0] === "close").map((e) => e[1].delayMs);
  assert.ok(delays[0] <= 8 && delays[1] >= 8 && delays[1] <= 16 && delays[2] >= 16, String(delays));
  await tick(40);
  sockets[3].open();
  sockets[3].drop(1006);
  const after = events.filter((e) => e[0] === "close").map((e) => e[1].delayMs);
  assert.ok(after[3] <= 8, "back to the base delay after a successful open: " + after);
  ch.close();
});

test("a reset is surfaced and the channel continues after it", async () => {
  reset();
  const { ch, events } = recorded("t", { transport: "websocket", after: 10 });
  await tick();
  assert.equal(sockets[0].url, "ws://127.0.0.1:8080/ws/t?after=10");
  sockets[0].open();
  sockets[0].frame({ reset: true, last: 50 });
  sockets[0].frame({ id: 51, data: "x" });
  const resetEvent = events.find((e) => e[0] === "reset")[1];
  assert.equal(resetEvent.last, 50);
  assert.equal(resetEvent.previous, 10);
  assert.deepEqual(events.filter((e) => e[0] === "message").map((e) => e[1].id), [51]);
  ch.close();
});

test("a poll answer flagged reset is surfaced before its messages", async () => {
  reset();
  const { ch, events } = recorded("t", { transport: "poll", after: 3 });
  await tick();
  assert.equal(fetches[0].url, "/poll/t?after=3");
  answer(fetches[0], { reset: true, messages: [{ id: 90, data: "a" }, { id: 91, data: "b" }], last: 91 });
  await tick();
  assert.deepEqual(events.map((e) => e[0]).filter((n) => n !== "transportchange"), ["open", "reset", "message", "message"]);
  assert.equal(ch.last, 91);
  ch.close();
});

test("send: a text frame on an open WebSocket, POST /publish otherwise", async () => {
  reset();
  const ws = recorded("room", { transport: "websocket" });
  await tick();
  sockets[0].open();
  assert.deepEqual(await ws.ch.send("hi"), { via: "websocket" });
  assert.deepEqual(sockets[0].sent, ["hi"]);
  ws.ch.close();

  const poll = recorded("room", { transport: "poll" });
  const sent = poll.ch.send("hello");
  const post = fetches.find((f) => f.init && f.init.method === "POST");
  assert.equal(post.url, "/publish/room");
  assert.equal(post.init.body, "hello");
  answer(post, { id: 7 });
  assert.deepEqual(await sent, { via: "POST", id: 7 });
  poll.ch.close();
});

test("close() stops for good: late events of the old connection are ignored", async () => {
  reset();
  const { ch, events } = recorded("t", { transport: "websocket" });
  await tick();
  sockets[0].open();
  ch.close();
  sockets[0].frame({ id: 1, data: "late" });
  assert.equal(events.filter((e) => e[0] === "message").length, 0);
  const last = events[events.length - 1];
  assert.equal(last[0], "close");
  assert.equal(last[1].reconnecting, false);
  assert.equal(ch.state, "closed");
});

test("an unknown transport is refused at once", () => {
  assert.throws(() => pushlab.connect("t", { transport: "carrier-pigeon" }), /unknown transport/);
});

test("a topic name the server would refuse is refused at once, not retried forever", () => {
  for (const bad of ["", "a b", "caf\u00e9", "x".repeat(65), "../etc", "a/b"]) {
    assert.throws(() => pushlab.connect(bad), /topic name/, JSON.stringify(bad));
  }
  for (const good of ["clock", "chat_2", "A-z", "x".repeat(64)]) {
    pushlab.connect(good).close();
  }
});

// ------------------------------------------------------------------------------------------------
// Reconnect progress and the watchdog of the held streams
// ------------------------------------------------------------------------------------------------

/** Waits (bounded) until `condition()` holds; fails with `what` otherwise. */
async function until(what, condition, limitMs = 2000) {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail("timed out waiting for " + what);
    await tick(1);
  }
}

/** A fetch() answer whose body the test feeds: text chunks, then an end or a network error. */
function streamBody() {
  const waiting = [], queued = [];
  const settle = (step, w) => (step.error ? w.reject(step.error) : w.resolve(step));
  const push = (step) => (waiting.length ? settle(step, waiting.shift()) : queued.push(step));
  const reader = {
    read: () => new Promise((resolve, reject) => {
      if (queued.length) settle(queued.shift(), { resolve, reject });
      else waiting.push({ resolve, reject });
    }),
    cancel: () => Promise.resolve(),
  };
  return {
    response: { ok: true, status: 200, body: { getReader: () => reader } },
    chunk: (text) => push({ done: false, value: new TextEncoder().encode(text) }),
    end: () => push({ done: true }),
    fail: () => push({ error: new TypeError("network error") }),
  };
}

// The server's XHR stream prelude: one line of 2 KiB padding without an id.
const PRELUDE = '{"padding":"' + " ".repeat(2048) + '"}\n';

test("an XHR stream cut after its prelude backs off with growing delays; only a message resets the backoff", async (t) => {
  reset();
  const base = 20;
  const { ch, events } = recorded("t", { transport: "stream", backoffBaseMs: base, backoffMaxMs: 10000 });
  t.after(() => ch.close()); // also when an assertion fails: no timer may outlive the test
  const delays = () => events.filter((e) => e[0] === "close").map((e) => e[1].delayMs);
  /** Answers stream request `i` with the prelude (and a heartbeat, and `extra`), then cuts it. */
  async function answerAndCut(i, cut, extra = "") {
    await until("stream request " + i, () => fetches.length > i);
    assert.match(fetches[i].url, /^\/stream\/t/);
    const body = streamBody();
    fetches[i].resolve(body.response);
    body.chunk(PRELUDE);
    body.chunk('{"heartbeat":true}\n' + extra);
    body[cut]();
    await tick();
  }
  // A proxy cuts every response right after the prelude: four times, by a clean end or an error.
  for (const [i, cut] of [[0, "end"], [1, "fail"], [2, "end"], [3, "fail"]]) {
    await answerAndCut(i, cut);
    assert.equal(fetches.length, i + 1, "no reopening at once after a stream without a message");
    assert.equal(delays().length, i + 1, "each cut is a failure with a delay");
  }
  delays().forEach((delay, k) => {
    const ceiling = base * 2 ** k;
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, "delay " + k + " is " + delay + " of " + delays());
  });
  assert.equal(events.filter((e) => e[0] === "open").length, 4, "every response did open");
  // Now a response with a message that the server ends (its size limit): reopened at once, no delay.
  await answerAndCut(4, "end", '{"id":7,"data":"real"}\n');
  await until("the planned renewal", () => fetches.length > 5);
  assert.equal(delays().length, 4, "a renewal after a message is no failure");
  assert.equal(fetches[5].url, "/stream/t?after=7");
  // The next cut after the prelude starts over from the base delay.
  await answerAndCut(5, "end");
  const last = delays()[delays().length - 1];
  assert.ok(last >= base / 2 && last <= base, "back to the base delay after a message: " + delays());
  assert.deepEqual(events.filter((e) => e[0] === "message").map((e) => e[1].id), [7]);
  ch.close();
});

test("the SSE watchdog leaves a quiet stream with heartbeats alone and reopens a silent one", async (t) => {
  reset();
  const heartbeatMs = 50; // the watchdog fires after 100 ms without any sign of life
  const { ch, events } = recorded("t", { transport: "sse", heartbeatMs, backoffBaseMs: 10 });
  t.after(() => ch.close());
  await tick();
  sources[0].open();
  // 300 ms, three watchdog periods, of heartbeats only: no message at all.
  for (let i = 0; i < 15; i++) {
    await tick(20);
    sources[0].heartbeat();
  }
  assert.equal(sources.length, 1, "the stream was not reopened");
  assert.equal(sources[0].readyState, FakeEventSource.OPEN);
  assert.deepEqual(events.filter((e) => e[0] === "error"), []);
  assert.equal(ch.stats.messages, 0, "a heartbeat is not a message");
  // Silence: after twice the heartbeat interval the stream is presumed dead and reopened.
  await until("a second EventSource", () => sources.length === 2, 1000);
  assert.equal(sources[0].readyState, FakeEventSource.CLOSED, "the dead one is closed");
  assert.match(events.find((e) => e[0] === "error")[1].reason, /nothing received for 0.1 s/);
  ch.close();
});

/**
 * A fake page for the iframe transport: `document` that records the frames it creates, and the window's
 * add/removeEventListener recording listeners by name. Removed when test `t` ends.
 */
function fakeDocument(t) {
  const frames = [];
  const listeners = {};
  globalThis.document = {
    createElement() {
      const frame = { style: {}, setAttribute() {}, contentWindow: { location: { href: "about:blank" } } };
      frames.push(frame);
      return frame;
    },
    body: { appendChild(el) { el.parentNode = this; }, removeChild(el) { el.parentNode = null; } },
  };
  globalThis.addEventListener = (name, fn) => { listeners[name] = fn; };
  globalThis.removeEventListener = (name, fn) => { if (listeners[name] === fn) delete listeners[name]; };
  t.after(() => {
    delete globalThis.document;
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
  });
  return { frames, listeners };
}

test("the iframe asks the server to post to this page's origin and takes messages only from its own frame and the server's origin", async (t) => {
  reset();
  const { frames, listeners } = fakeDocument(t);
  const { ch, events } = recorded("t", { transport: "iframe" });
  t.after(() => ch.close());
  await tick();
  answer(fetches[0], { messages: [], last: 5 }); // the catch-up poll
  await until("the frame", () => frames.length === 1);
  assert.equal(frames[0].src, "/iframe/t?after=5&origin=" + encodeURIComponent("http://127.0.0.1:8080"));
  const post = (source, origin, data) => listeners.message({ source, origin, data });
  const server = "http://127.0.0.1:8080";
  post(frames[0].contentWindow, server, { id: 6, data: "ours" });
  post(frames[0].contentWindow, "http://evil.example", { id: 7, data: "another origin" });
  post({ location: {} }, server, { id: 8, data: "another window" });
  post(frames[0].contentWindow, "null", { id: 9, data: "a sandboxed frame" });
  post(frames[0].contentWindow, server, { heartbeat: true });
  post(frames[0].contentWindow, server, { id: 10, data: "ours again" });
  assert.deepEqual(events.filter((e) => e[0] === "message").map((e) => [e[1].id, e[1].data]),
    [[6, "ours"], [10, "ours again"]]);
  ch.close();
  assert.equal(listeners.message, undefined, "close() removes the listener");
  assert.equal(frames[0].parentNode, null, "and the frame");
});

test("an iframe whose page ends without a message backs off; one that ends after a message is reloaded at once", async (t) => {
  reset();
  const { frames, listeners } = fakeDocument(t);
  const { ch, events } = recorded("t", { transport: "iframe", backoffBaseMs: 20 });
  t.after(() => ch.close());
  const server = "http://127.0.0.1:8080";
  /** The frame's page ended (the load event), after the given objects were posted. */
  const endFrame = (frame, posted) => {
    for (const data of posted) listeners.message({ source: frame.contentWindow, origin: server, data });
    frame.contentWindow.location.href = "http://127.0.0.1:8080/iframe/t";
    frame.onload();
  };
  await tick();
  answer(fetches[0], { messages: [], last: 5 });
  await until("the first frame", () => frames.length === 1);
  endFrame(frames[0], [{ heartbeat: true }]); // cut after the prelude and a heartbeat
  await tick();
  assert.equal(frames.length, 1, "not reloaded at once");
  const close = events.find((e) => e[0] === "close")[1];
  assert.match(close.reason, /ended before delivering a message/);
  assert.ok(close.delayMs >= 10 && close.delayMs <= 20, String(close.delayMs));
  // The retry catches up with a short poll, then loads a frame that delivers a message and ends.
  await until("the catch-up poll", () => fetches.length === 2);
  answer(fetches[1], { messages: [], last: 5 });
  await until("the second frame", () => frames.length === 2);
  endFrame(frames[1], [{ id: 6, data: "x" }]);
  await tick();
  assert.equal(frames.length, 3, "the planned renewal reloads at once");
  assert.equal(frames[2].src, "/iframe/t?after=6&origin=" + encodeURIComponent(server));
  assert.equal(events.filter((e) => e[0] === "close").length, 1);
});

// ------------------------------------------------------------------------------------------------
// Sessions: the page as one client of a channel application
// ------------------------------------------------------------------------------------------------

function answerStatus(request, status, body) {
  const text = JSON.stringify(body);
  request.resolve({ ok: status < 300, status, text: () => Promise.resolve(text), json: () => Promise.resolve(body) });
}

/** Closes a session and answers its close POST, so that no request timer outlives the test. */
async function closeAnswered(s) {
  const closing = s.close();
  const bye = fetches.filter((f) => f.url.endsWith("/close")).pop();
  if (bye) answer(bye, {});
  await closing;
}

/** A session that records every callback as [name, event]. */
function recordedSession(app, options) {
  const s = pushlab.session(app, options);
  const events = [];
  for (const name of ["open", "message", "reset", "error", "close", "transportchange"]) {
    s["on" + name] = (ev) => events.push([name, ev]);
  }
  return { s, events };
}

test("a session opens with POST /channel/{app}, reads its private topic from 0, and sends to the app", async () => {
  reset();
  const { s, events } = recordedSession("echo", { transport: "poll" });
  const early = s.send("before open"); // waits for the session
  await tick();
  assert.equal(fetches[0].url, "/channel/echo");
  assert.equal(fetches[0].init.method, "POST");
  answer(fetches[0], { session: "ab12", topic: "session-ab12" });
  await tick(5); // the answer is read, then the channel starts on a later turn
  assert.equal(s.id, "ab12");
  const post = fetches.find((f) => f.url === "/channel/echo/ab12");
  assert.ok(post, "the waiting send went to the application: " + fetches.map((f) => f.url));
  assert.equal(post.init.body, "before open");
  answer(post, {});
  assert.equal((await early).via, "POST");
  const poll = fetches.find((f) => f.url.startsWith("/poll/"));
  assert.equal(poll.url, "/poll/session-ab12?after=0", "from 0: a greeting queued at open is not missed");
  answer(poll, { messages: [{ id: 1, data: "* welcome" }], last: 1 });
  await tick();
  const open = events.find((e) => e[0] === "open")[1];
  assert.equal(open.session, "ab12");
  assert.equal(open.fresh, false);
  assert.deepEqual(events.filter((e) => e[0] === "message").map((e) => e[1].data), ["* welcome"]);
  const closing = s.close();
  const bye = fetches.find((f) => f.url === "/channel/echo/ab12/close");
  assert.equal(bye.init.method, "POST");
  answer(bye, {});
  await closing;
  assert.equal(s.state, "closed");
  await assert.rejects(s.send("too late"), /closed/);
});

test("on a WebSocket a session sends frames, which the server hands to the application", async () => {
  reset();
  const { s } = recordedSession("chat", { transport: "websocket" });
  await tick();
  answer(fetches[0], { session: "cd34", topic: "session-cd34" });
  await tick(5);
  assert.equal(sockets[0].url, "ws://127.0.0.1:8080/ws/session-cd34?after=0");
  sockets[0].open();
  assert.deepEqual(await s.send("hello room"), { via: "websocket" });
  assert.deepEqual(sockets[0].sent, ["hello room"]);
  await closeAnswered(s);
});

test("a session the server forgot (404 on the status query) is replaced by a fresh one", async () => {
  reset();
  const { s, events } = recordedSession("echo", { transport: "websocket", backoffBaseMs: 10 });
  await tick();
  answer(fetches[0], { session: "old1", topic: "session-old1" });
  await tick(5);
  sockets[0].open();
  sockets[0].drop(1006); // the server restarted
  await tick();
  const status = fetches.find((f) => f.url === "/channel/echo/old1");
  assert.ok(status, "the session asks whether the server still knows it");
  assert.equal(status.init.method, undefined, "a GET");
  answerStatus(status, 404, { error: "no such session" });
  await tick();
  assert.equal(fetches.filter((f) => f.url === "/channel/echo").length, 1, "not at once: after a backoff delay");
  await tick(20);
  const reopen = fetches.filter((f) => f.url === "/channel/echo");
  assert.equal(reopen.length, 2, "a new session is opened");
  answer(reopen[1], { session: "new2", topic: "session-new2" });
  await tick(20);
  const fresh = sockets.find((ws) => ws.url.includes("session-new2"));
  assert.ok(fresh, "subscribed to the new private topic: " + sockets.map((ws) => ws.url));
  fresh.open();
  const opens = events.filter((e) => e[0] === "open").map((e) => [e[1].session, e[1].fresh]);
  assert.deepEqual(opens, [["old1", false], ["new2", true]]);
  assert.equal(sockets.filter((ws) => ws.url.includes("session-old1") && ws.readyState !== 3).length, 0,
    "nothing keeps knocking on the forgotten session");
  await closeAnswered(s);
});

test("a session still known after a failure just reconnects, keeping its id", async () => {
  reset();
  const { s } = recordedSession("echo", { transport: "websocket", backoffBaseMs: 10 });
  await tick();
  answer(fetches[0], { session: "keep", topic: "session-keep" });
  await tick(5);
  sockets[0].open();
  sockets[0].frame({ id: 3, data: "x" });
  sockets[0].drop(1006);
  await tick();
  answer(fetches.find((f) => f.url === "/channel/echo/keep"), { session: "keep", topic: "session-keep" });
  await tick(30);
  assert.equal(s.id, "keep");
  assert.equal(fetches.filter((f) => f.url === "/channel/echo").length, 1, "no new session");
  assert.equal(sockets[sockets.length - 1].url, "ws://127.0.0.1:8080/ws/session-keep?after=3");
  await closeAnswered(s);
});

test("a session refused for good (404: no such application) ends, and its waiting sends fail", async () => {
  reset();
  const { s, events } = recordedSession("nope", { transport: "poll", backoffBaseMs: 5 });
  const early = s.send("lost");
  await tick();
  answerStatus(fetches[0], 404, { error: "no such application" });
  await assert.rejects(early, /ended before it opened/);
  await tick(30);
  assert.equal(fetches.filter((f) => f.url === "/channel/nope").length, 1, "not asked again");
  assert.equal(s.state, "closed");
  const closes = events.filter((e) => e[0] === "close").map((e) => e[1].reconnecting);
  assert.deepEqual(closes, [false]);
  assert.match(events.find((e) => e[0] === "error")[1].reason, /HTTP 404/);
});

test("a session refused for now (503: too many sessions) is asked again after a backoff delay", async () => {
  reset();
  const { s, events } = recordedSession("echo", { transport: "poll", backoffBaseMs: 10, requestTimeoutMs: 200 });
  await tick();
  answerStatus(fetches[0], 503, { error: "too many sessions" });
  await tick();
  assert.equal(s.state, "reconnecting");
  assert.equal(events.find((e) => e[0] === "close")[1].reconnecting, true);
  await tick(20);
  assert.equal(fetches.filter((f) => f.url === "/channel/echo").length, 2);
  await closeAnswered(s);
});

test("sends made before the session opened go out one after another, in order", async () => {
  reset();
  const { s } = recordedSession("echo", { transport: "poll" });
  const first = s.send("one");
  const second = s.send("two");
  await tick();
  answer(fetches[0], { session: "q1", topic: "session-q1" });
  await tick();
  const posts = () => fetches.filter((f) => f.url === "/channel/echo/q1");
  assert.deepEqual(posts().map((f) => f.init.body), ["one"], "the second waits for the first");
  answer(posts()[0], {});
  await first;
  await tick();
  assert.deepEqual(posts().map((f) => f.init.body), ["one", "two"]);
  answer(posts()[1], {});
  await second;
  await closeAnswered(s);
});

test("a send on a WebSocket that is closing goes by POST instead of being dropped", async () => {
  reset();
  const { ch } = recorded("room", { transport: "websocket" });
  await tick();
  sockets[0].open();
  sockets[0].readyState = FakeWebSocket.CLOSING;
  const sent = ch.send("not lost");
  assert.deepEqual(sockets[0].sent, []);
  const post = fetches.find((f) => f.url === "/publish/room");
  assert.equal(post.init.body, "not lost");
  answer(post, { id: 9 });
  assert.deepEqual(await sent, { via: "POST", id: 9 });
  ch.close();
});

test("leaving the page closes the session with a beacon; coming back from the cache opens a new one", async () => {
  reset();
  const listeners = {};
  const beacons = [];
  globalThis.addEventListener = (name, fn) => { listeners[name] = fn; };
  globalThis.removeEventListener = (name) => { delete listeners[name]; };
  Object.defineProperty(globalThis, "navigator", {
    value: { sendBeacon: (url) => beacons.push(url) }, configurable: true, writable: true,
  });
  try {
    const { s } = recordedSession("chat", { transport: "poll" });
    await tick();
    answer(fetches[0], { session: "b1", topic: "session-b1" });
    await tick(5);
    listeners.pagehide({ persisted: true });
    assert.deepEqual(beacons, ["/channel/chat/b1/close"]);
    assert.equal(s.id, null, "the page forgets the ended session");
    listeners.pageshow({ persisted: true });
    await tick();
    assert.equal(fetches.filter((f) => f.url === "/channel/chat").length, 2, "a new session on return");
    answer(fetches.filter((f) => f.url === "/channel/chat")[1], { session: "b2", topic: "session-b2" });
    await tick(5);
    assert.equal(s.id, "b2");
    await closeAnswered(s);
    assert.equal(listeners.pagehide, undefined, "close() removes its listeners");
  } finally {
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
    delete globalThis.navigator;
  }
});
