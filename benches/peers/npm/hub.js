// The message hub both reference servers share, the same shape as pushlab's: each topic keeps an
// ordered, bounded log with increasing ids, so any door can resume "after id N".
//
// Contract (as pushlab's, see design.md §3): `after` absent means "from now", `after=0` means
// "everything the log still has", and a message is the JSON object {"id":N,"data":"..."}.
'use strict';

const MAX_LOG_MESSAGES = 10000;
const TOPIC_NAME = /^[A-Za-z0-9_-]{1,64}$/;

class Hub {
  constructor() {
    this.topics = new Map();
  }

  topic(name) {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = { lastId: 0, log: [], subscribers: new Set() };
      this.topics.set(name, topic);
    }
    return topic;
  }

  // Appends one message and hands it to every subscriber at once.
  publish(name, data) {
    const topic = this.topic(name);
    const message = { id: ++topic.lastId, data };
    topic.log.push(message);
    if (topic.log.length > MAX_LOG_MESSAGES) topic.log.shift();
    for (const subscriber of topic.subscribers) subscriber(message);
    return message;
  }

  // The messages after `after`; none when `after` is null ("from now").
  after(name, after) {
    if (after === null) return [];
    return this.topic(name).log.filter((message) => message.id > after);
  }

  // The id of the newest message, 0 for an empty topic: what "from now" resumes after.
  head(name) {
    return this.topic(name).lastId;
  }

  // Replays what is after `after` and subscribes in the same turn, so nothing published in between
  // is lost or sent twice (one event loop: no message can arrive between the two steps).
  // Returns the function that unsubscribes.
  subscribe(name, after, deliver) {
    for (const message of this.after(name, after)) deliver(message);
    const topic = this.topic(name);
    topic.subscribers.add(deliver);
    return () => topic.subscribers.delete(deliver);
  }
}

// `?after=N` as a number, or null when absent or not a decimal integer.
function parseAfter(value) {
  return typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : null;
}

// The message as one JSON object, the same bytes as pushlab's doors carry.
function messageJson(message) {
  return JSON.stringify({ id: message.id, data: message.data });
}

// Reads a request body up to `limit` bytes, then calls back with it as text (or null when too long).
function readBody(req, limit, done) {
  const chunks = [];
  let length = 0;
  req.on('data', (chunk) => {
    length += chunk.length;
    if (length <= limit) chunks.push(chunk);
  });
  req.on('end', () => done(length <= limit ? Buffer.concat(chunks).toString('utf8') : null));
}

// Answers `POST /publish/{topic}` with {"id":N}, as pushlab does.
function publishRoute(hub, req, res, topic) {
  readBody(req, 64 * 1024, (body) => {
    if (body === null) return sendJson(res, 413, { error: 'body too large' });
    sendJson(res, 200, { id: hub.publish(topic, body).id });
  });
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

// Listens on 127.0.0.1 (port from argv[2], else any free one), prints the address on stdout as the
// first line (`listening on 127.0.0.1:PORT`, which the lab reads), and exits when stdin closes, so a
// server whose parent died does not linger.
function listen(server) {
  const port = Number(process.argv[2] || 0);
  server.listen(port, '127.0.0.1', () => {
    const { address, port: bound } = server.address();
    process.stdout.write(`listening on ${address}:${bound}\n`);
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

module.exports = { Hub, TOPIC_NAME, parseAfter, messageJson, publishRoute, sendJson, listen };
