// A push server on `sockjs` (the server half of SockJS), as a user who wants fallbacks would pick.
//
// SockJS is a session protocol of its own, not pushlab's URL contract: a client opens a session under
// the prefix and receives SockJS frames (`o` open, `h` heartbeat, `a["msg",...]` messages, `c[code,
// "reason"]` close) whatever the transport. Each pushlab door maps to the SockJS transport that works
// the same way on the wire, and every SockJS message carries pushlab's JSON object {"id":N,"data":".."}
// as its string:
//
//   pushlab door              SockJS transport (S = /sockjs/{server}/{session})
//   /ws/{topic}            -> GET  /sockjs/websocket          raw WebSocket: one text frame a message,
//                                                             no SockJS framing (the closest match)
//   /stream/{topic}        -> POST S/xhr_streaming            chunked: 2,048 `h` bytes of prelude, then
//                                                             one frame a line
//   /sse/{topic}           -> GET  S/eventsource              `data: a[...]` events (no `id:` lines:
//                                                             SockJS resumes by session, not by id)
//   /longpoll/{topic}      -> POST S/xhr                      one frame a response, asked again at once
//   /iframe/{topic}        -> GET  S/htmlfile?c=F             forever frame, one <script> a frame
//   /jsonp/{topic}         -> GET  S/jsonp?c=F                one frame a response
//
// The topic and the resume point are query parameters of the opening request (`?topic=T&after=N`),
// because SockJS owns the path. Publishing is pushlab's `POST /publish/{topic}`, served beside SockJS;
// a message a client sends on its session is published to its topic.
//
// Usage: node sockjs.js [PORT]
'use strict';

const http = require('http');
const sockjs = require('sockjs');
const { Hub, TOPIC_NAME, parseAfter, messageJson, publishRoute, sendJson, listen } = require('./hub');

const PREFIX = '/sockjs';
const hub = new Hub();

const service = sockjs.createServer({
  prefix: PREFIX,
  log: () => {},
  // The client library's URL is only used by the iframe transports' page; the lab never loads it.
  sockjs_url: 'about:blank',
});

service.on('connection', (connection) => {
  const query = new URL(connection.url, 'http://127.0.0.1').searchParams;
  const topic = query.get('topic');
  if (!topic || !TOPIC_NAME.test(topic)) return connection.close(4000, 'topic missing');
  const unsubscribe = hub.subscribe(topic, parseAfter(query.get('after')),
    (message) => connection.write(messageJson(message)));
  connection.on('data', (text) => hub.publish(topic, text));
  connection.on('close', unsubscribe);
});

const server = http.createServer((req, res) => {
  const match = /^\/publish\/([^/?]+)$/.exec(req.url);
  if (req.method === 'POST' && match && TOPIC_NAME.test(match[1])) {
    return publishRoute(hub, req, res, match[1]);
  }
  sendJson(res, 404, { error: 'not found' });
});
service.installHandlers(server);

listen(server);
