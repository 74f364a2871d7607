/*
 * pushlab.js: one browser client for the seven doors of a pushlab server.
 *
 *   const ch = pushlab.connect("chat", { transport: "auto" });
 *   ch.onmessage = (msg) => console.log(msg.id, msg.data);
 *   ch.send("hello");
 *
 * How to load it
 *   As a plain script:   <script src="/pushlab.js"></script>          then use the global `pushlab`.
 *   From an ES module:   import { connect, session } from "/pushlab.mjs";   (a re-export of this file)
 *                        or import "/pushlab.js"; const { pushlab } = globalThis;
 *   The file is a classic script on purpose: no build step, no bundler, one file a student can read.
 *   Importing it as a module simply runs it, and it puts `pushlab` on `globalThis` either way. In Node
 *   (for the unit tests of the pure helpers) `require()` returns the same object.
 *
 * The design, in four ideas
 *
 * 1. A channel is not a connection. `connect()` returns a Channel: a subscription to one topic that
 *    outlives any single HTTP request or socket. Underneath, one *transport* at a time does the work.
 *    Each transport is one small function below (poll, longpoll, stream, iframe, jsonp, sse,
 *    websocket) that opens its kind of connection and reports back through a `link`:
 *      link.opened()      from now on, nothing published to the topic can be missed
 *      link.deliver(obj)  one JSON object arrived: a message {id, data}, a reset, or a heartbeat
 *      link.batch(body)   a poll-style answer {messages:[...], last, reset?} arrived
 *      link.alive()       some sign of life arrived (for the dead-connection watchdog)
 *      link.failed(why)   the connection is gone and it was not planned: the channel decides what next
 *    A transport never retries after a failure by itself; the channel does, in one place, with one policy.
 *    (Planned renewals stay inside the transport: the long poll's next request, the stream that the
 *    server ended after its size limit.) Every link is thrown away on failure, and a stopped link ignores
 *    late callbacks, so an old request that answers after a reconnect cannot deliver anything twice.
 *
 * 2. Resume by id, never lose, never repeat. Every message has an increasing id. The channel remembers
 *    the last id it delivered (`ch.last`) and every transport asks for "after that id" when it
 *    (re)connects: `?after=N` on every HTTP door, and on SSE the browser's own `Last-Event-ID` header when
 *    EventSource reconnects by itself. A message whose id is not above the last one is dropped, as a
 *    defence. When the server no longer has the messages we asked for, it says so explicitly (a "reset");
 *    the channel tells the page through `onreset` and continues.
 *
 * 3. Auto mode, as Sente (Clojure) does it: try WebSocket first; if it cannot open (an error or close
 *    before open, or no open within 3 s) fall back to SSE; if SSE cannot open either, fall back to long
 *    polling, which works through anything that passes plain HTTP. Each step fires `ontransportchange`
 *    with the reason. Once a transport has opened, the channel sticks to it and only reconnects it.
 *
 * 4. Reconnect with exponential backoff and jitter: 250 ms doubling up to 10 s, a random half of the delay
 *    added so that a thousand pages dropped at once by a restarting server do not come back in the same
 *    millisecond. Progress resets the backoff: for most transports a successful open, but for the XHR
 *    stream and the iframe only a delivered message (an object with an id). Their "open" proves little:
 *    a proxy may pass the response head and the 1-2 KiB prelude and then cut every response, and if
 *    each such open counted, the channel would reopen at once, in a tight loop. So a stream that ends
 *    (or breaks) without having delivered a message is a failure like a failed open, and the delays
 *    grow; a stream that ends after a message is the server's planned renewal, reopened at once.
 *    Held streams (sse, stream, iframe) have a watchdog: nothing at all for 2 x the server's heartbeat
 *    interval (2 x 15 s) means the connection is dead even if TCP has not noticed, so the channel
 *    reconnects. Every transport's heartbeat reaches this page: a JSON line {"heartbeat":true} on the
 *    XHR stream, the same object posted by the iframe, and on SSE a named event ("event: heartbeat",
 *    empty data) that the page listens for. (Many SSE servers send a comment line as heartbeat; EventSource
 *    never shows comments to JavaScript, so a page could not tell a quiet stream from a dead one.)
 *    One honest limit: WebSocket has no watchdog here. The server pings every 30 s and the browser
 *    answers by itself, invisibly to JavaScript; a dead peer is found by the server, and the browser
 *    learns of a dead link when TCP reports it. An application-level ping would need a message type the
 *    protocol lacks.
 *
 * Channel API
 *   ch.onopen(ev)               ev = {transport, reconnect}: subscribed; fires again after each reconnect
 *   ch.onmessage(msg)           msg = {id, data, transport}; in id order, each id once
 *   ch.onreset(ev)              ev = {last, previous, transport}: the server could not replay everything
 *   ch.onerror(ev)              ev = {transport, reason}: the connection failed (a reconnect follows)
 *   ch.onclose(ev)              ev = {transport, reason, reconnecting, delayMs}
 *   ch.ontransportchange(ev)    ev = {from, to, reason}; the first one has from = null
 *   ch.send(data)               WebSocket: a text frame; otherwise POST /publish/{topic}. Returns a Promise.
 *   ch.close()                  stops for good
 *   ch.transport                the transport in use now
 *   ch.state                    "connecting" | "open" | "reconnecting" | "closed"
 *   ch.last                     the last id delivered (null before the first one)
 *   ch.stats                    {messages, requests, bytes, reconnects}; bytes are approximate
 *                               (characters of bodies and frames received, headers not counted)
 *
 * Options of connect(topic, options)
 *   transport   "auto" (default) | "websocket" | "sse" | "longpoll" | "poll" | "stream" | "iframe" | "jsonp"
 *   after       an id to resume after; 0 means "everything the server still has"; absent means "from now"
 *   base        server origin, e.g. "http://127.0.0.1:8080"; absent: the page's own origin
 *   and the timings in DEFAULTS below, which mirror the server's defaults.
 *
 * Sessions: the page as one client of a server-side channel application (src/channel.rs)
 *   const s = pushlab.session("echo", { transport: "auto" });
 *   s.onmessage = (msg) => ...;   what the application sends to this page alone
 *   s.send("hi");                 to the application (its on_message), not to a topic
 *   s.close();                    the application's on_close runs
 *   The same callbacks and options as a channel, plus s.id (the session id). See Session below.
 */
(function (root, factory) {
  "use strict";
  var pushlab = factory(root);
  root.pushlab = pushlab;
  if (typeof module === "object" && module && module.exports) {
    module.exports = pushlab; // Node, for the unit tests of the pure helpers
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function (global) {
  "use strict";

  // Timings. Each one is tied to a server default (src/server/config.rs); change them together.
  var DEFAULTS = {
    transport: "auto",
    after: null,
    base: "",
    pollIntervalMs: 1000, // short polling: one request a second
    batchSize: 100, // the server's max_batch_messages: a full answer means "ask again at once"
    holdTimeoutMs: 20000, // the server's hold_timeout; our own request timeout is longer (+10 s)
    heartbeatMs: 15000, // the server's heartbeat_interval; the watchdog fires after twice this
    openTimeoutMs: 3000, // auto mode: a transport that has not opened by then is given up
    backoffBaseMs: 250, // first reconnect delay ...
    backoffMaxMs: 10000, // ... doubling up to this cap
    requestTimeoutMs: 10000, // a request that should answer at once (poll, publish)
  };

  // Auto mode's order: the most capable door first, the one that passes everything last.
  // ANCHOR: auto_order
  var AUTO_ORDER = ["websocket", "sse", "longpoll"];
  // ANCHOR_END: auto_order

  // Topic names, as the server accepts them (src/hub: 1 to 64 of A-Z a-z 0-9 _ -).
  var TOPIC_NAME = /^[A-Za-z0-9_-]{1,64}$/;

  // Answers to "open a session" that asking again cannot change: a bad request, a forbidden or unknown
  // application, a wrong method. (503, too many sessions, may pass: that one is retried.)
  var FINAL_REFUSALS = [400, 403, 404, 405];

  // Held streams get a dead-connection watchdog (see the top comment for why not WebSocket).
  var WATCHED = { sse: true, stream: true, iframe: true };

  // Streams whose open proves little (a proxy may cut every response after its prelude): for these only
  // a delivered message resets the reconnect backoff. See idea 4 in the top comment.
  var PROGRESS_IS_A_MESSAGE = { stream: true, iframe: true };

  // ---------------------------------------------------------------------------------------------
  // Pure helpers (no DOM, no network), unit-tested in Node by tests/js/pushlab.test.js.
  // ---------------------------------------------------------------------------------------------

  /**
   * Backoff delay before reconnect number `attempt` (0-based): the ceiling doubles from `baseMs` up to
   * `maxMs`, and the delay is a random point in the upper half of it ("equal jitter"). The upper half,
   * not 0..ceiling, so that a reconnect is never instant and the delay still grows.
   */
  // ANCHOR: backoff
  function backoffDelayMs(attempt, baseMs, maxMs, random) {
    var ceiling = Math.min(maxMs, baseMs * Math.pow(2, Math.min(attempt, 30)));
    return Math.round(ceiling / 2 + (random || Math.random)() * (ceiling / 2));
  }
  // ANCHOR_END: backoff

  /**
   * The channel's memory of where it is in the topic: the last id delivered. `null` means "none yet":
   * then a request carries no `after` and the server answers "from now".
   */
  function Cursor(after) {
    this.last = after === null || after === undefined ? null : Number(after);
  }
  /** True if `id` is new (above the last one); it becomes the last one. Duplicates return false. */
  // ANCHOR: cursor_accept
  Cursor.prototype.accept = function (id) {
    if (typeof id !== "number" || !isFinite(id)) return false; // heartbeat, padding: no id
    if (this.last !== null && id <= this.last) return false; // seen already: drop, never repeat
    this.last = id;
    return true;
  };
  // ANCHOR_END: cursor_accept
  /** A poll-style answer says where to continue (`last`): the head when its list was empty. */
  Cursor.prototype.advanceTo = function (last) {
    if (typeof last !== "number" || !isFinite(last)) return;
    if (this.last === null || last > this.last) this.last = last;
  };
  /**
   * The server could not replay from our id and continues after `last`. Only ever move back, never
   * forward: messages above our old id still count as new whichever way the server counts `last`.
   */
  Cursor.prototype.reset = function (last) {
    if (typeof last !== "number" || !isFinite(last)) return;
    if (this.last === null || last < this.last) this.last = last;
  };

  /**
   * Splits a byte stream's text into lines. Network chunks do not respect line ends: a chunk may end
   * in the middle of a line, so the unfinished tail is kept until its "\n" arrives.
   */
  function LineSplitter() {
    this.pending = "";
  }
  /** Adds text, returns the complete lines it finished (without "\n" or "\r"). */
  LineSplitter.prototype.push = function (text) {
    var parts = (this.pending + text).split("\n");
    this.pending = parts.pop();
    return parts.map(function (line) {
      return line.charAt(line.length - 1) === "\r" ? line.slice(0, -1) : line;
    });
  };

  /**
   * Parses one line of the NDJSON stream. Returns the object, or null for padding and blank lines (the
   * server may pad a stream's start so that every browser starts delivering it at once).
   * Throws on a line that starts like JSON but is not: that is a broken server, not padding.
   */
  function parseStreamLine(line) {
    var text = line.trim();
    if (text.charAt(0) !== "{") return null;
    return JSON.parse(text);
  }

  /** True for a message: an object with a numeric id (not padding, a heartbeat or a reset). */
  function isMessage(obj) {
    return !!obj && typeof obj === "object" && typeof obj.id === "number" && isFinite(obj.id);
  }

  /** The origin of the server the channel talks to: `base`'s, or the page's own when `base` is "". */
  function serverOrigin(base, pageHref) {
    return new URL(base || "/", pageHref).origin;
  }

  /**
   * Whether a `message` event comes from our own forever frame: posted by that frame's window, from
   * the server's origin. Any window can post to any other (another frame, a pop-up, an extension), so
   * both are checked; the server's target origin protects the other direction.
   */
  function isFromFrame(event, frameWindow, expectedOrigin) {
    return !!frameWindow && event.source === frameWindow && event.origin === expectedOrigin;
  }

  /** Builds `base/route/topic?k=v...`, leaving out parameters whose value is null. */
  function buildUrl(base, route, topic, params) {
    var query = [];
    Object.keys(params || {}).forEach(function (key) {
      var value = params[key];
      if (value !== null && value !== undefined) {
        query.push(encodeURIComponent(key) + "=" + encodeURIComponent(String(value)));
      }
    });
    var path = (base || "") + "/" + route + "/" + encodeURIComponent(topic);
    return query.length ? path + "?" + query.join("&") : path;
  }

  /** http://h/p -> ws://h/p and https -> wss; a relative URL is taken against `pageHref`. */
  function toWebSocketUrl(url, pageHref) {
    var absolute = new URL(url, pageHref);
    absolute.protocol = absolute.protocol === "https:" ? "wss:" : "ws:";
    return absolute.href;
  }

  /** The id the server would continue after, from an SSE `event: reset` (data N or {"last":N}). */
  function resetFromSse(data) {
    var parsed;
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      parsed = null;
    }
    var last = typeof parsed === "number" ? parsed : parsed && parsed.last;
    return { reset: true, last: typeof last === "number" ? last : null };
  }

  // Every JSONP callback gets its own global name, so a late answer to an old request can never be
  // mistaken for the current one.
  var callbackSeq = 0;

  // ---------------------------------------------------------------------------------------------
  // The link: what one transport attempt may tell its channel. Dead links ignore everything.
  // ---------------------------------------------------------------------------------------------

  function Link(channel) {
    this.channel = channel;
    this.options = channel.options;
    this.live = true;
    this.hasOpened = false;
    this.sendFrame = null; // set by the WebSocket transport while its socket is open
    this.stopTransport = null;
    this.timers = [];
    this.controllers = [];
    this.callbacks = [];
    this.watchdog = null;
    this.openTimer = null;
  }

  /** The URL of this channel's topic on `route`, resuming after the last id when there is one. */
  Link.prototype.url = function (route, extra) {
    var params = { after: this.channel._cursor.last };
    Object.keys(extra || {}).forEach(function (key) {
      params[key] = extra[key];
    });
    return buildUrl(this.options.base, route, this.channel.topic, params);
  };

  Link.prototype.opened = function () {
    if (!this.live || this.hasOpened) return;
    this.hasOpened = true;
    clearTimeout(this.openTimer);
    this._armWatchdog();
    this.channel._transportOpened();
  };

  /** SSE only: the browser lost the stream and is reconnecting by itself. */
  Link.prototype.reconnecting = function (reason) {
    if (!this.live) return;
    this.hasOpened = false;
    this.channel._browserReconnecting(reason);
  };

  Link.prototype.deliver = function (obj) {
    if (this.live) this.channel._deliver(obj);
  };

  /** A poll-style body. Returns how many messages it listed, so the caller can tell a full batch. */
  Link.prototype.batch = function (body) {
    if (!this.live) return 0;
    if (!body || !Array.isArray(body.messages)) throw new Error("answer has no messages list");
    this.channel._deliverBatch(body);
    return body.messages.length;
  };

  Link.prototype.alive = function () {
    if (this.live && this.watchdog !== null) this._armWatchdog();
  };

  Link.prototype.request = function () {
    if (this.live) this.channel.stats.requests += 1;
  };

  Link.prototype.bytes = function (count) {
    if (this.live) this.channel.stats.bytes += count;
  };

  Link.prototype.failed = function (reason) {
    if (this.live) this.channel._transportFailed(this, reason);
  };

  /** setTimeout that is cancelled when the link dies. */
  Link.prototype.later = function (fn, ms) {
    var self = this;
    var timer = setTimeout(function () {
      if (self.live) fn();
    }, ms);
    this.timers.push(timer);
    return timer;
  };

  /**
   * fetch() that is aborted when the link dies, or after `timeoutMs` (0: no timeout, for streams).
   * Counts the request.
   */
  Link.prototype.fetch = function (url, init, timeoutMs) {
    // A loop of a stopped link (an answer that was already on its way) must not start new requests.
    if (!this.live) return Promise.reject(new Error("link stopped"));
    var controller = new AbortController();
    var timer = null;
    this.controllers.push(controller);
    this.request();
    if (timeoutMs > 0) {
      timer = setTimeout(function () {
        controller.abort();
      }, timeoutMs);
    }
    var request = Object.assign({ cache: "no-store", signal: controller.signal }, init || {});
    var self = this;
    var forget = function () {
      clearTimeout(timer);
      self.controllers = self.controllers.filter(function (c) {
        return c !== controller;
      });
    };
    return global.fetch(url, request).then(
      function (response) {
        // Streams forget the controller only when stopped, so stop() can abort their body reads.
        if (timeoutMs > 0) clearTimeout(timer);
        response.forget = forget;
        return response;
      },
      function (error) {
        forget();
        throw error;
      }
    );
  };

  /** GET a JSON body that should come within `timeoutMs`; counts its bytes. */
  Link.prototype.getJson = function (url, timeoutMs) {
    var self = this;
    return this.fetch(url, {}, timeoutMs).then(function (response) {
      return response.text().then(function (text) {
        response.forget();
        if (!response.ok) throw new Error("HTTP " + response.status);
        self.bytes(text.length);
        return JSON.parse(text);
      });
    });
  };

  /** A fresh global function name for a JSONP callback. */
  Link.prototype.callback = function (fn) {
    var self = this;
    var name = "__pushlab_cb_" + ++callbackSeq;
    global[name] = function () {
      if (self.live) fn.apply(null, arguments);
    };
    this.callbacks.push(name);
    return name;
  };

  /** Removes a callback; a script still in flight may call it later, so leave a no-op behind. */
  Link.prototype.releaseCallback = function (name) {
    global[name] = function () {
      delete global[name];
    };
  };

  // ANCHOR: watchdog
  Link.prototype._armWatchdog = function () {
    var channel = this.channel;
    if (!WATCHED[channel.transport] || !(this.options.heartbeatMs > 0)) return;
    clearTimeout(this.watchdog);
    var limitMs = 2 * this.options.heartbeatMs;
    var self = this;
    this.watchdog = setTimeout(function () {
      self.failed("nothing received for " + limitMs / 1000 + " s: connection presumed dead");
    }, limitMs);
  };
  // ANCHOR_END: watchdog

  /** Kills the link: timers, requests, callbacks and the transport's own connection. */
  Link.prototype.stop = function () {
    if (!this.live) return;
    this.live = false;
    this.sendFrame = null;
    clearTimeout(this.watchdog);
    clearTimeout(this.openTimer);
    this.timers.forEach(clearTimeout);
    this.controllers.forEach(function (c) {
      c.abort();
    });
    this.callbacks.forEach(this.releaseCallback);
    if (this.stopTransport) {
      try {
        this.stopTransport();
      } catch (e) {
        // already closed: nothing to do
      }
    }
  };

  // ---------------------------------------------------------------------------------------------
  // The seven transports. Each one: open its kind of connection, report through `link`, and return
  // a function that closes it. None of them retries after a failure; the channel does.
  // ---------------------------------------------------------------------------------------------

  var TRANSPORTS = {};

  /**
   * Catching up first. Long polling, JSONP and the iframe give no signal that the server has taken the
   * request in, and without `after` the server answers "from now": a message published between our
   * "open" and the server reading the request would be missed. So these three first ask one short poll:
   * it answers at once with what we missed (or, without `after`, the topic's current id), and from then
   * on the channel always has an id to resume after. That answer is the "open".
   * (A cross-origin JSONP page would get that first id from the page that embeds it instead.)
   */
  // ANCHOR: catch_up
  function catchUp(link, then) {
    link
      .getJson(link.url("poll"), link.options.requestTimeoutMs)
      .then(function (body) {
        link.opened();
        link.batch(body);
        then();
      })
      .catch(function (error) {
        link.failed("catching up with a short poll failed: " + error.message);
      });
  }
  // ANCHOR_END: catch_up

  /** Short polling: ask, get an answer at once, wait a second, ask again. */
  TRANSPORTS.poll = function (link) {
    function ask() {
      link
        .getJson(link.url("poll"), link.options.requestTimeoutMs)
        .then(function (body) {
          link.opened(); // the first answer tells us where "now" is: from here nothing is missed
          var count = link.batch(body);
          // A full answer means the server capped it: more are waiting, so ask again at once.
          link.later(ask, count >= link.options.batchSize ? 0 : link.options.pollIntervalMs);
        })
        .catch(function (error) {
          link.failed("poll: " + error.message);
        });
    }
    ask();
  };

  /** Long polling: the server holds each request until there is news; ask again as soon as it answers. */
  TRANSPORTS.longpoll = function (link) {
    // Our own timeout is longer than the server's hold, so a quiet topic ends in an empty answer from
    // the server, not in an abort from us.
    var timeoutMs = link.options.holdTimeoutMs + 10000;
    function hold() {
      link
        .getJson(link.url("longpoll"), timeoutMs)
        .then(function (body) {
          link.batch(body);
          hold();
        })
        .catch(function (error) {
          link.failed("long poll: " + error.message);
        });
    }
    catchUp(link, hold);
  };

  /**
   * XHR streaming, done with fetch(): one response that never ends on its own, read chunk by chunk as
   * it arrives, one JSON object per line (NDJSON). The server ends it after a size limit so that no
   * response grows without bound; then we open the next one at once, after the last id. A response
   * that ends or breaks before it delivered a single message is a failure instead (the channel backs
   * off): the padding and heartbeats alone are exactly what a proxy that cuts every response lets by.
   */
  TRANSPORTS.stream = function (link) {
    var reader = null;
    function open() {
      var lines = new LineSplitter();
      var decoder = new TextDecoder();
      var messages = 0; // in this response: the proof that the road to the server works
      link.fetch(link.url("stream"), {}, 0).then(function (response) {
        if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
        link.opened(); // headers arrived: the server has subscribed us
        reader = response.body.getReader();
        // ANCHOR: stream_progress
        function pump() {
          return reader.read().then(function (step) {
            if (step.done) {
              response.forget();
              // The planned renewal ends after messages; an end before any is a failure.
              if (messages > 0) open();
              else link.failed("stream ended before delivering a message");
              return undefined;
            }
            link.bytes(step.value.length);
            link.alive(); // padding and heartbeat lines count as life (not as progress)
            lines.push(decoder.decode(step.value, { stream: true })).forEach(function (line) {
              var obj = parseStreamLine(line);
              if (isMessage(obj)) messages += 1;
              if (obj) link.deliver(obj);
            });
            return pump();
          });
        }
        // ANCHOR_END: stream_progress
        return pump();
      }).catch(function (error) {
        link.failed("stream: " + error.message);
      });
    }
    open();
    return function stop() {
      if (reader) reader.cancel().catch(function () {});
    };
  };

  /**
   * The iframe "forever frame": a hidden iframe loads a never-ending HTML page; the server writes one
   * <script> per message that posts it to this (the parent) page:
   * `parent.postMessage({"id":..,"data":..}, "<this page's origin>")`. We ask for that target origin
   * with `?origin=`, and the server writes it only if it is its own origin or one it allows (403
   * otherwise), never "*". The browser then delivers each message only to a parent on that origin,
   * and our listener takes an event only from our own frame's window and the server's origin.
   * (The server's older mode, `?callback=F` calling `parent.F(...)`, works only when the page and the
   * server share an origin; postMessage works across origins too.)
   * The iframe's load event means the response ended (the server's size limit): we load a fresh one
   * after the last id, at once if it delivered a message, else after a backoff delay (as the stream).
   */
  TRANSPORTS.iframe = function (link) {
    var frame = null;
    var expectedOrigin = serverOrigin(link.options.base, global.location.href);
    var messages = 0; // in the current frame
    function onMessage(event) {
      if (!link.live || !frame || !isFromFrame(event, frame.contentWindow, expectedOrigin)) return;
      var obj = event.data;
      if (typeof obj === "string") {
        try {
          obj = JSON.parse(obj);
        } catch (error) {
          link.failed("iframe: a script handed over something that is not JSON");
          return;
        }
      }
      if (isMessage(obj)) messages += 1;
      link.bytes(JSON.stringify(obj).length);
      link.alive();
      link.deliver(obj);
    }
    function remove() {
      if (frame && frame.parentNode) frame.parentNode.removeChild(frame);
      frame = null;
    }
    function stop() {
      global.removeEventListener("message", onMessage);
      remove();
    }
    function open() {
      if (!link.live) return;
      messages = 0;
      frame = document.createElement("iframe");
      frame.setAttribute("aria-hidden", "true");
      frame.tabIndex = -1;
      frame.style.cssText = "position:absolute;width:0;height:0;border:0;visibility:hidden";
      frame.onload = function () {
        // Some browsers fire load for the initial about:blank; only the real page's end counts.
        var href = "";
        try {
          href = frame.contentWindow.location.href;
        } catch (e) {
          href = "(other origin)";
        }
        if (href === "about:blank") return;
        remove();
        if (messages > 0) open();
        else link.failed("iframe ended before delivering a message");
      };
      frame.src = link.url("iframe", { origin: global.location.origin });
      link.request();
      (document.body || document.documentElement).appendChild(frame);
    }
    global.addEventListener("message", onMessage);
    catchUp(link, open);
    return stop;
  };

  /**
   * JSONP: a <script src> pointing at the server, which answers `callback({...})`: JavaScript that
   * calls a function of ours. The server holds it like a long poll. Works across origins without CORS
   * because scripts always did, and for the same reason it is the least safe door: the server's answer
   * runs with all the rights of this page.
   */
  TRANSPORTS.jsonp = function (link) {
    var script = null;
    function remove() {
      if (script && script.parentNode) script.parentNode.removeChild(script);
      script = null;
    }
    function ask() {
      if (!link.live) return;
      var answered = false;
      var name = link.callback(function (body) {
        answered = true;
        link.bytes(JSON.stringify(body).length);
        try {
          link.batch(body);
        } catch (error) {
          link.failed("jsonp: " + error.message);
        }
      });
      var timeout = link.later(function () {
        remove();
        link.releaseCallback(name);
        link.failed("jsonp: no answer within " + (link.options.holdTimeoutMs + 10000) / 1000 + " s");
      }, link.options.holdTimeoutMs + 10000);
      script = document.createElement("script");
      script.async = true;
      script.onload = function () {
        clearTimeout(timeout);
        remove(); // one tag per answer: do not let the page fill up with them
        link.releaseCallback(name);
        if (answered) ask();
        else link.failed("jsonp: the script ran but never called back");
      };
      script.onerror = function () {
        clearTimeout(timeout);
        remove();
        link.releaseCallback(name);
        link.failed("jsonp: the script failed to load");
      };
      script.src = link.url("jsonp", { callback: name });
      link.request();
      (document.head || document.documentElement).appendChild(script);
    }
    catchUp(link, ask);
    return remove;
  };

  /**
   * Server-Sent Events: the browser's EventSource does the streaming, the parsing and even the
   * reconnecting (sending Last-Event-ID, so the server resumes after the last id). We only step in
   * when the browser gives up (readyState CLOSED) or the stream never opened.
   */
  TRANSPORTS.sse = function (link) {
    var source = new EventSource(link.url("sse"));
    var openNow = false;
    link.request();
    source.onopen = function () {
      openNow = true;
      link.opened();
    };
    source.onmessage = function (event) {
      link.alive();
      link.bytes(event.data.length + event.lastEventId.length);
      // An event without an `id:` line has lastEventId "" (Number("") would be 0): no id, not ours.
      var id = event.lastEventId === "" ? null : Number(event.lastEventId);
      link.deliver({ id: id, data: event.data });
    };
    source.addEventListener("reset", function (event) {
      link.alive();
      link.deliver(resetFromSse(event.data));
    });
    // ANCHOR: sse_heartbeat
    // The server's heartbeat is a named event ("event: heartbeat", empty data), not a comment, exactly so
    // that this page sees it: a quiet stream that still beats is alive, and the watchdog leaves it be.
    source.addEventListener("heartbeat", function () {
      link.alive();
    });
    // ANCHOR_END: sse_heartbeat
    // ANCHOR: sse_onerror
    source.onerror = function () {
      if (openNow && source.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, with Last-Event-ID: let it, and count it.
        openNow = false;
        link.request();
        link.reconnecting("sse: stream lost, the browser reconnects with Last-Event-ID");
        return;
      }
      // Never opened, or the browser gave up: close it so it does not retry behind our back.
      source.close();
      link.failed(openNow ? "sse: the browser gave up the stream" : "sse: the stream did not open");
    };
    // ANCHOR_END: sse_onerror
    return function stop() {
      source.close();
    };
  };

  /**
   * WebSocket: one upgraded connection, frames both ways. The server pushes one JSON text frame per
   * message; a text frame from us is published to the topic.
   */
  TRANSPORTS.websocket = function (link) {
    var socket = new WebSocket(toWebSocketUrl(link.url("ws"), global.location.href));
    var wasOpen = false;
    link.request();
    socket.onopen = function () {
      wasOpen = true;
      // A frame only on a socket that is open right now: a closing socket would drop it silently.
      link.sendFrame = function (text) {
        if (socket.readyState !== WebSocket.OPEN) return false;
        socket.send(text);
        return true;
      };
      link.opened();
    };
    socket.onmessage = function (event) {
      if (typeof event.data !== "string") return; // the protocol sends text only
      link.bytes(event.data.length);
      link.alive();
      var obj;
      try {
        obj = JSON.parse(event.data);
      } catch (e) {
        link.failed("websocket: a frame that is not JSON");
        return;
      }
      link.deliver(obj);
    };
    // There is always a close after an error, with a code that says more; handle both there.
    socket.onclose = function (event) {
      var why = "code " + event.code + (event.reason ? " " + event.reason : "");
      link.failed(wasOpen ? "websocket closed (" + why + ")" : "websocket did not open (" + why + ")");
    };
    return function stop() {
      socket.onclose = null;
      socket.close(1000, "channel closed");
    };
  };

  // ---------------------------------------------------------------------------------------------
  // The channel: owns the cursor, the policy (fallback, backoff) and the callbacks.
  // ---------------------------------------------------------------------------------------------

  /** The defaults, overridden by the options the page gave; an unknown transport is refused at once. */
  function settingsFrom(options) {
    var settings = Object.assign({}, DEFAULTS);
    Object.keys(options || {}).forEach(function (key) {
      if (options[key] !== undefined) settings[key] = options[key];
    });
    if (settings.transport !== "auto" && !TRANSPORTS[settings.transport]) {
      throw new Error("pushlab: unknown transport " + JSON.stringify(settings.transport));
    }
    return settings;
  }

  function Channel(topic, options) {
    var settings = settingsFrom(options);
    // The server's rule for topic names: refused here at once rather than by every request, forever.
    if (!TOPIC_NAME.test(String(topic))) {
      throw new Error("pushlab: a topic name is 1 to 64 of A-Z a-z 0-9 _ - (got " + JSON.stringify(topic) + ")");
    }
    this.topic = String(topic);
    this.options = settings;
    this.mode = settings.transport; // "auto" or the forced one
    this.transport = this.mode === "auto" ? AUTO_ORDER[0] : this.mode;
    this.state = "connecting";
    this.stats = { messages: 0, requests: 0, bytes: 0, reconnects: 0 };
    this.onopen = this.onmessage = this.onreset = this.onerror = this.onclose = null;
    this.ontransportchange = null;
    this._cursor = new Cursor(settings.after);
    this._settled = this.mode !== "auto"; // in auto mode: has some transport opened yet?
    this._everOpened = false;
    this._attempt = 0;
    this._link = null;
    this._retryTimer = null;
    var self = this;
    // Start on the next turn, so the page can set the callbacks after connect() returns.
    setTimeout(function () {
      if (self.state === "closed") return;
      var reason = self.mode === "auto" ? "auto: WebSocket first" : "chosen by the page";
      self._emit("transportchange", { from: null, to: self.transport, reason: reason });
      self._start();
    }, 0);
  }

  Object.defineProperty(Channel.prototype, "last", {
    get: function () {
      return this._cursor.last;
    },
  });

  Channel.prototype._start = function () {
    if (this.state === "closed") return;
    var link = new Link(this);
    this._link = link;
    // ANCHOR: open_timer
    var next = AUTO_ORDER[AUTO_ORDER.indexOf(this.transport) + 1];
    if (!this._settled && next) {
      var ms = this.options.openTimeoutMs;
      link.openTimer = setTimeout(function () {
        link.failed("no open within " + ms / 1000 + " s");
      }, ms);
    }
    // ANCHOR_END: open_timer
    try {
      link.stopTransport = TRANSPORTS[this.transport](link) || null;
    } catch (error) {
      // e.g. `new WebSocket` throwing on a bad URL, or a browser without EventSource
      link.failed(this.transport + ": " + error.message);
    }
  };

  Channel.prototype._transportOpened = function () {
    var reconnect = this._everOpened;
    this._everOpened = true;
    this._settled = true; // auto mode sticks to the first transport that opened
    // A successful open resets the backoff, except for streams whose open proves little: for those
    // only a message does (in _deliver).
    if (!PROGRESS_IS_A_MESSAGE[this.transport]) this._attempt = 0;
    this.state = "open";
    this._emit("open", { transport: this.transport, reconnect: reconnect });
  };

  Channel.prototype._browserReconnecting = function (reason) {
    this.state = "reconnecting";
    this.stats.reconnects += 1;
    this._emit("close", { transport: this.transport, reason: reason, reconnecting: true, delayMs: null });
  };

  // ANCHOR: transport_failed
  Channel.prototype._transportFailed = function (link, reason) {
    link.stop();
    var from = this.transport;
    var next = AUTO_ORDER[AUTO_ORDER.indexOf(from) + 1];
    if (!this._settled && next) {
      // Auto mode, and this transport never opened: this network does not let it through. Next door.
      this.transport = next;
      this._emit("transportchange", { from: from, to: next, reason: reason });
      this._start();
      return;
    }
    var delayMs = backoffDelayMs(
      this._attempt,
      this.options.backoffBaseMs,
      this.options.backoffMaxMs
    );
    this._attempt += 1;
    this.stats.reconnects += 1;
    this.state = "reconnecting";
    this._emit("error", { transport: from, reason: reason });
    this._emit("close", { transport: from, reason: reason, reconnecting: true, delayMs: delayMs });
    var self = this;
    this._retryTimer = setTimeout(function () {
      self._start();
    }, delayMs);
  };
  // ANCHOR_END: transport_failed

  Channel.prototype._deliver = function (obj) {
    if (!obj || typeof obj !== "object") return;
    if (obj.reset === true) {
      this._reset(obj.last);
      return;
    }
    if (isMessage(obj)) this._attempt = 0; // a message is progress: the backoff starts over
    if (!this._cursor.accept(obj.id)) return; // no id (heartbeat) or a duplicate
    this.stats.messages += 1;
    this._emit("message", { id: obj.id, data: obj.data, transport: this.transport });
  };

  Channel.prototype._deliverBatch = function (body) {
    if (body.reset === true) {
      var first = body.messages[0];
      this._reset(first && typeof first.id === "number" ? first.id - 1 : body.last);
    }
    for (var i = 0; i < body.messages.length; i++) this._deliver(body.messages[i]);
    this._cursor.advanceTo(body.last);
  };

  Channel.prototype._reset = function (last) {
    var previous = this._cursor.last;
    this._cursor.reset(last);
    this._emit("reset", { last: last, previous: previous, transport: this.transport });
  };

  /** Calls `on<name>`; a throwing callback must not break the channel, so rethrow it on its own turn. */
  Channel.prototype._emit = function (name, event) {
    var handler = this["on" + name];
    if (typeof handler !== "function") return;
    try {
      handler.call(this, event);
    } catch (error) {
      setTimeout(function () {
        throw error;
      }, 0);
    }
  };

  /**
   * Sends `data` upstream. On an open WebSocket it is a text frame (the server publishes it); on every
   * other transport, and on a WebSocket not open (yet, or any more), it is POST /publish/{topic}.
   * Resolves to {via: "websocket"} or {via: "POST", id}.
   */
  Channel.prototype.send = function (data) {
    var text = String(data);
    if (this._link && this._link.sendFrame && this._link.sendFrame(text)) {
      return Promise.resolve({ via: "websocket" });
    }
    this.stats.requests += 1;
    var url = this.options.sendPath
      ? this.options.base + "/" + this.options.sendPath
      : buildUrl(this.options.base, "publish", this.topic);
    var request = {
      method: "POST",
      body: text,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    };
    return fetchJson(url, request, this.options.requestTimeoutMs).then(function (answer) {
      if (!answer.ok) throw new Error("POST " + url + " answered HTTP " + answer.status);
      return { via: "POST", id: answer.body ? answer.body.id : undefined };
    });
  };

  /** Stops the channel for good. */
  Channel.prototype.close = function () {
    if (this.state === "closed") return;
    this.state = "closed";
    clearTimeout(this._retryTimer);
    if (this._link) this._link.stop();
    this._emit("close", {
      transport: this.transport,
      reason: "closed by the page",
      reconnecting: false,
      delayMs: null,
    });
  };

  // ---------------------------------------------------------------------------------------------
  // Sessions: this page as one client of a channel application on the server (src/channel.rs)
  // ---------------------------------------------------------------------------------------------

  /**
   * A session with a server-side channel application, as HTTP-Kit and Sente offer: the application sees
   * this page as one client, with an open, messages and a close, whatever the transport underneath.
   *
   *   POST /channel/{app}          opens it; answers {"session": id, "topic": "session-<id>"}
   *   a Channel on that topic      everything the application sends to this client alone, over any
   *                                transport, resumed by id like any channel; after=0 because the
   *                                application may have queued a greeting before we subscribed
   *   send(text)                   a text frame on an open WebSocket, else POST /channel/{app}/{id}
   *   close()                      POST /channel/{app}/{id}/close; also sent as a beacon when the page
   *                                goes away, so the application hears of the departure at once
   *   GET /channel/{app}/{id}      asked after a connection fails: does the server still know us?
   *                                A 404 (the session expired after the grace period, or the server
   *                                restarted) opens a new session, and onopen says {fresh: true}.
   *
   * Opening refused with 400, 403, 404 or 405 ends the session (asking again cannot help); a 503, the
   * server's session limit, is retried with backoff like a network error.
   *
   * The callbacks are the channel's (onopen, onmessage, onreset, onerror, onclose, ontransportchange);
   * onopen's event also carries `session`, the id. Sends made before the session exists wait for it and
   * then go out one after another, in order.
   */
  // ANCHOR: session
  function Session(app, options) {
    this.app = String(app);
    this.options = settingsFrom(options);
    this.id = null;
    this.state = "connecting";
    this.onopen = this.onmessage = this.onreset = this.onerror = this.onclose = null;
    this.ontransportchange = null;
    this._channel = null;
    this._opens = 0; // sessions opened so far: the second and later ones are "fresh"
    this._attempt = 0;
    this._retryTimer = null;
    this._checking = false;
    this._waitingSends = [];
    var self = this;
    this._onPageHide = function () {
      self._closeByBeacon();
    };
    this._onPageShow = function (event) {
      // Back from the back/forward cache: the beacon ended the old session, so open a new one.
      if (event && event.persisted && self.state !== "closed" && self.id === null) self._open();
    };
    if (typeof global.addEventListener === "function") {
      global.addEventListener("pagehide", this._onPageHide);
      global.addEventListener("pageshow", this._onPageShow);
    }
    setTimeout(function () {
      self._open();
    }, 0);
  }
  // ANCHOR_END: session

  Object.defineProperty(Session.prototype, "transport", {
    get: function () {
      return this._channel ? this._channel.transport : this.options.transport;
    },
  });
  Object.defineProperty(Session.prototype, "last", {
    get: function () {
      return this._channel ? this._channel.last : null;
    },
  });
  Object.defineProperty(Session.prototype, "stats", {
    get: function () {
      return this._channel ? this._channel.stats : { messages: 0, requests: 0, bytes: 0, reconnects: 0 };
    },
  });

  Session.prototype._url = function (suffix) {
    return this.options.base + "/channel/" + encodeURIComponent(this.app) + (suffix || "");
  };

  Session.prototype._open = function () {
    if (this.state === "closed") return;
    var self = this;
    fetchJson(this._url(), { method: "POST" }, this.options.requestTimeoutMs).then(
      function (answer) {
        self._opened(answer);
      },
      function (error) {
        self._retry("opening a session failed: " + error.message);
      }
    );
  };

  Session.prototype._opened = function (answer) {
    var body = answer.body;
    var valid = answer.ok && body && typeof body.session === "string" && typeof body.topic === "string";
    if (this.state === "closed") {
      // Closed while the POST was on its way: do not leave the server a session nobody will use.
      if (valid) fetchJson(this._url("/" + body.session + "/close"), { method: "POST" }, 0).catch(noop);
      return;
    }
    if (!valid) {
      var why = "POST " + this._url() + " answered HTTP " + answer.status;
      // A refusal that asking again cannot change (no such application, say) ends the session; a
      // 503 (too many sessions) or another 5xx may pass, so it is retried with backoff.
      if (FINAL_REFUSALS.indexOf(answer.status) >= 0) this._end(why);
      else this._retry(why);
      return;
    }
    this.id = body.session;
    var fresh = this._opens > 0;
    this._opens += 1;
    var settings = Object.assign({}, this.options, {
      after: 0,
      sendPath: "channel/" + encodeURIComponent(this.app) + "/" + this.id,
    });
    var channel;
    try {
      channel = new Channel(body.topic, settings);
    } catch (error) {
      this._end("the server named a topic this client cannot use: " + error.message);
      return;
    }
    this._channel = channel;
    this._forward(channel, fresh);
    // One after another, in order: sent at once, two POSTs could travel on two connections and reach
    // the application in the other order.
    var previous = Promise.resolve();
    this._waitingSends.splice(0).forEach(function (waiting) {
      previous = previous
        .then(function () {
          return channel.send(waiting.data);
        })
        .then(waiting.resolve, waiting.reject);
    });
  };

  /** Passes the inner channel's events on as the session's own. */
  Session.prototype._forward = function (channel, fresh) {
    var self = this;
    channel.onopen = function (ev) {
      self.state = "open";
      self._attempt = 0; // a session that got through resets the backoff
      var first = !ev.reconnect;
      self._emit("open", { transport: ev.transport, reconnect: ev.reconnect, session: self.id, fresh: fresh && first });
    };
    channel.onmessage = function (msg) {
      self._emit("message", msg);
    };
    channel.onreset = function (ev) {
      self._emit("reset", ev);
    };
    channel.ontransportchange = function (ev) {
      self._emit("transportchange", ev);
    };
    channel.onerror = function (ev) {
      self._emit("error", ev);
      self._checkStillKnown();
    };
    channel.onclose = function (ev) {
      if (!ev.reconnecting) return; // the session's own close() reports that one
      self.state = "reconnecting";
      self._emit("close", ev);
    };
  };

  /** After a failure: a 404 means the server forgot the session, and reconnecting to it is useless. */
  Session.prototype._checkStillKnown = function () {
    if (this._checking || this.state === "closed" || this.id === null) return;
    this._checking = true;
    var self = this;
    var id = this.id;
    fetchJson(this._url("/" + id), {}, this.options.requestTimeoutMs).then(
      function (answer) {
        self._checking = false;
        if (answer.status === 404 && self.id === id) self._renew();
      },
      function () {
        self._checking = false; // the server is unreachable: the channel goes on retrying
      }
    );
  };

  Session.prototype._renew = function () {
    if (this.state === "closed") return;
    var transport = this.transport;
    var reason = "the server no longer knows session " + this.id + " (expired or restarted)";
    stopQuietly(this._channel);
    this._channel = null;
    this.id = null;
    this.state = "reconnecting";
    // The channel has already reported its close; this says why reconnecting to it is pointless. A new
    // session follows after the backoff delay, so two servers that disagree cannot make a storm.
    this._emit("error", { transport: transport, reason: reason });
    this._retryLater();
  };

  Session.prototype._retryLater = function () {
    var delayMs = backoffDelayMs(this._attempt, this.options.backoffBaseMs, this.options.backoffMaxMs);
    this._attempt += 1;
    var self = this;
    this._retryTimer = setTimeout(function () {
      self._open();
    }, delayMs);
    return delayMs;
  };

  Session.prototype._retry = function (reason) {
    if (this.state === "closed") return;
    var transport = this.transport;
    this.state = "reconnecting";
    var delayMs = this._retryLater();
    this._emit("error", { transport: transport, reason: reason });
    this._emit("close", { transport: transport, reason: reason, reconnecting: true, delayMs: delayMs });
  };

  /** The server refused for good: stop, and fail the sends that were waiting. */
  Session.prototype._end = function (reason) {
    var transport = this.transport;
    this._emit("error", { transport: transport, reason: reason });
    this._shutDown(transport, reason);
  };

  Session.prototype._emit = Channel.prototype._emit;

  /**
   * Sends `data` to the application: a text frame on an open WebSocket, else POST /channel/{app}/{id}.
   * Before the session exists the send waits for it. Resolves to {via: "websocket"} or {via: "POST"}.
   */
  Session.prototype.send = function (data) {
    if (this.state === "closed") return Promise.reject(new Error("pushlab: the session is closed"));
    var self = this;
    if (this._channel) {
      return this._channel.send(data).catch(function (error) {
        self._checkStillKnown(); // a 404 here may mean the server forgot us
        throw error;
      });
    }
    var waiting = this._waitingSends;
    return new Promise(function (resolve, reject) {
      waiting.push({ data: String(data), resolve: resolve, reject: reject });
    });
  };

  /**
   * Ends the session for good; the application's on_close runs. The promise resolves once the close
   * request is answered, or failed (there is nothing more to do then), or at once if no session was
   * open yet.
   */
  Session.prototype.close = function () {
    if (this.state === "closed") return Promise.resolve();
    var id = this.id;
    this._shutDown(this.transport, "closed by the page");
    if (id === null) return Promise.resolve();
    var url = this._url("/" + id + "/close");
    return fetchJson(url, { method: "POST" }, this.options.requestTimeoutMs).then(noop, noop);
  };

  /** Stops everything of this session on the page side and fires the last close. */
  Session.prototype._shutDown = function (transport, reason) {
    this.state = "closed";
    clearTimeout(this._retryTimer);
    if (typeof global.removeEventListener === "function") {
      global.removeEventListener("pagehide", this._onPageHide);
      global.removeEventListener("pageshow", this._onPageShow);
    }
    this._waitingSends.splice(0).forEach(function (waiting) {
      waiting.reject(new Error("pushlab: the session ended before it opened (" + reason + ")"));
    });
    stopQuietly(this._channel);
    this._channel = null;
    this._emit("close", { transport: transport, reason: reason, reconnecting: false, delayMs: null });
  };

  /**
   * The page is going away: a beacon is the one request a browser still sends then. The session is over
   * on the server, so the page forgets it too; if the page comes back from the back/forward cache,
   * `pageshow` opens a new one.
   */
  Session.prototype._closeByBeacon = function () {
    var nav = global.navigator;
    if (this.state === "closed" || this.id === null || !nav || typeof nav.sendBeacon !== "function") return;
    nav.sendBeacon(this._url("/" + this.id + "/close"));
    stopQuietly(this._channel);
    this._channel = null;
    this.id = null;
    this.state = "reconnecting";
  };

  /** Closes a channel without letting its last events reach anyone. */
  function stopQuietly(channel) {
    if (!channel) return;
    channel.onopen = channel.onmessage = channel.onreset = channel.onerror = channel.onclose = null;
    channel.ontransportchange = null;
    channel.close();
  }

  function noop() {}

  /**
   * A request that should answer at once, as {ok, status, body} with the body parsed as JSON (null if it
   * is not JSON). Rejects only when no answer came: a network error, or `timeoutMs` (0: no timeout).
   */
  function fetchJson(url, init, timeoutMs) {
    var controller = new AbortController();
    var timer = timeoutMs
      ? setTimeout(function () {
          controller.abort();
        }, timeoutMs)
      : null;
    var done = function () {
      clearTimeout(timer);
    };
    return global.fetch(url, Object.assign({ signal: controller.signal }, init)).then(
      function (response) {
        return response.text().then(function (text) {
          done();
          var body = null;
          try {
            body = JSON.parse(text);
          } catch (e) {
            body = null;
          }
          return { ok: response.ok, status: response.status, body: body };
        });
      },
      function (error) {
        done();
        throw error;
      }
    );
  }

  return {
    /** Subscribes to `topic`; see the top of this file for the options and the channel's API. */
    connect: function (topic, options) {
      return new Channel(topic, options);
    },
    /** Opens a session with the channel application `app`; see "Sessions" above. */
    session: function (app, options) {
      return new Session(app, options);
    },
    Channel: Channel,
    Session: Session,
    /** The transport names, in the order the pages show them. */
    transports: ["poll", "longpoll", "stream", "iframe", "jsonp", "sse", "websocket"],
    autoOrder: AUTO_ORDER.slice(),
    defaults: Object.assign({}, DEFAULTS),
    // The pure helpers, exported for the unit tests.
    _internal: {
      backoffDelayMs: backoffDelayMs,
      Cursor: Cursor,
      LineSplitter: LineSplitter,
      parseStreamLine: parseStreamLine,
      buildUrl: buildUrl,
      toWebSocketUrl: toWebSocketUrl,
      resetFromSse: resetFromSse,
      isMessage: isMessage,
      serverOrigin: serverOrigin,
      isFromFrame: isFromFrame,
    },
  };
});
