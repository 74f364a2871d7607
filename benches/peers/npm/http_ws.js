// A push server as a Node user would write it: the `http` module and the `ws` package, speaking
// pushlab's URL contract for five doors (design.md §3):
//
//   POST /publish/{topic}          body becomes one message; answers {"id":N}
//   GET  /longpoll/{topic}?after=N {"messages":[...],"last":N} once a message after N exists,
//                                  or an empty list after 20 s
//   GET  /sse/{topic}              text/event-stream, `id: N` + `data:` lines; Last-Event-ID or ?after=N
//   GET  /stream/{topic}?after=N   chunked application/x-ndjson, one {"id":..,"data":..} line a message
//   GET  /ws/{topic}?after=N       WebSocket: one text frame a message; a text frame is published
//
// Usage: node http_ws.js [PORT]
'use strict';

const http = require('http');
const { WebSocketServer } = require('ws');
const { Hub, TOPIC_NAME, parseAfter, messageJson, publishRoute, sendJson, listen } = require('./hub');

const HOLD_MS = 20000;
const HEARTBEAT_MS = 15000;
const hub = new Hub();

// `/{door}/{topic}` and the query, or null for another path.
function route(req) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const parts = url.pathname.split('/');
  if (parts.length !== 3 || !TOPIC_NAME.test(parts[2])) return null;
  return { door: parts[1], topic: parts[2], after: parseAfter(url.searchParams.get('after')) };
}

function longPoll(req, res, { topic, after }) {
  const from = after === null ? hub.head(topic) : after;
  const answer = (messages) => {
    const last = messages.length ? messages[messages.length - 1].id : hub.head(topic);
    sendJson(res, 200, { messages, last });
  };
  const ready = hub.after(topic, from);
  if (ready.length) return answer(ready);
  // Held: the first message after `from` answers; the timer answers an empty list.
  let unsubscribe = () => {};
  const timer = setTimeout(() => { unsubscribe(); answer([]); }, HOLD_MS);
  unsubscribe = hub.subscribe(topic, null, (message) => {
    clearTimeout(timer);
    unsubscribe();
    answer([message]);
  });
  res.on('close', () => { clearTimeout(timer); unsubscribe(); });
}

// Holds a response open and writes `frame(message)` for each message, with `heartbeat` every 15 s.
function holdStream(req, res, topic, after, contentType, frame, heartbeat) {
  res.writeHead(200, {
    'Content-Type': contentType,
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  const unsubscribe = hub.subscribe(topic, after, (message) => res.write(frame(message)));
  const timer = setInterval(() => res.write(heartbeat), HEARTBEAT_MS);
  res.on('close', () => { clearInterval(timer); unsubscribe(); });
}

// SSE (WHATWG HTML §9.2): each line of the data gets its own `data:` field.
function sseFrame(message) {
  const data = message.data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join('');
  return `id: ${message.id}\n${data}\n`;
}

const server = http.createServer((req, res) => {
  const target = route(req);
  if (!target) return sendJson(res, 404, { error: 'not found' });
  const { door, topic, after } = target;
  if (req.method === 'POST' && door === 'publish') return publishRoute(hub, req, res, topic);
  if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
  switch (door) {
    case 'longpoll':
      return longPoll(req, res, target);
    case 'sse': {
      const lastEventId = parseAfter(req.headers['last-event-id']);
      const from = lastEventId !== null ? lastEventId : after;
      return holdStream(req, res, topic, from, 'text/event-stream', sseFrame, ': heartbeat\n\n');
    }
    case 'stream':
      return holdStream(req, res, topic, after, 'application/x-ndjson',
        (message) => messageJson(message) + '\n', '{"heartbeat":true}\n');
    default:
      return sendJson(res, 404, { error: 'not found' });
  }
});

const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
server.on('upgrade', (req, socket, head) => {
  const target = route(req);
  if (!target || target.door !== 'ws') return socket.destroy();
  sockets.handleUpgrade(req, socket, head, (ws) => {
    const unsubscribe = hub.subscribe(target.topic, target.after, (message) => ws.send(messageJson(message)));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) hub.publish(target.topic, data.toString('utf8'));
    });
    ws.on('close', unsubscribe);
  });
});

listen(server);
