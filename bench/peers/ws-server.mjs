// Benchmark peer: a plain Node `ws` broadcast server that speaks the subset of the
// Switchboard wire protocol the load generator uses, so `sb-loadgen --dialect ws`
// drives it exactly like Switchboard:
//   -> (on upgrade)  {"type":"connected","client":"<id>","version":1}
//   <- {"type":"subscribe","id":n,"channel":"c"}     -> {"type":"subscribed","id":n,"channel":"c"}
//   <- {"type":"unsubscribe","id":n,"channel":"c"}   -> {"type":"unsubscribed","id":n,"channel":"c"}
//   <- {"type":"publish","id":n,"channel":"c","data":x}
//        -> every subscriber of c: {"type":"message","channel":"c","data":x,"offset":N,"ts":ms}
//        -> the publisher (only when it sent an id): {"type":"published","id":n,"channel":"c","offset":N}
//   errors: {"type":"error","id":n,"code":"...","message":"...","retryable":false}
// Also POST /api/publish {"channel":"c","data":x} -> 200 {"offset":N}, only so the loadgen's
// HTTP publisher can be checked without Switchboard (run.sh compares HTTP publishing on
// Switchboard alone). No history, no auth: it is the floor a hand-written Node server gets.
//
// Usage: node ws-server.mjs [PORT]   (or PORT=... / HOST=... in the environment)
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? process.env.PORT ?? 8081);
const host = process.env.HOST ?? '127.0.0.1';
const CHANNEL_RE = /^[A-Za-z0-9_\-.:@#/=+]{1,255}$/;

const channels = new Map(); // name -> { subs: Set<WebSocket>, offset: number }
let nextClient = 1;

function publish(channel, data) {
  let ch = channels.get(channel);
  if (!ch) channels.set(channel, (ch = { subs: new Set(), offset: 0 }));
  const offset = ++ch.offset;
  // Serialize once, send the same buffer to every subscriber.
  const out = Buffer.from(JSON.stringify({ type: 'message', channel, data, offset, ts: Date.now() }));
  for (const sub of ch.subs) sub.send(out, { binary: false });
  return offset;
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/api/publish') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(chunks));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"bad_json"}');
      return;
    }
    if (typeof msg?.channel !== 'string' || !CHANNEL_RE.test(msg.channel)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"bad_channel"}');
      return;
    }
    const offset = publish(msg.channel, msg.data);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ offset }));
  });
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 1 << 20 });

function sendJson(ws, obj) {
  ws.send(JSON.stringify(obj));
}

function sendError(ws, id, code, message) {
  sendJson(ws, { type: 'error', id: id ?? null, code, message, retryable: false });
}

wss.on('connection', (ws) => {
  const mine = new Set();
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  sendJson(ws, { type: 'connected', client: `c${nextClient++}`, version: 1 });

  ws.on('message', (raw, isBinary) => {
    if (isBinary) return sendError(ws, null, 'bad_request', 'binary frames are not supported');
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return sendError(ws, null, 'bad_json', 'message is not JSON');
    }
    const { type, id, channel } = msg ?? {};
    if ((type === 'subscribe' || type === 'unsubscribe' || type === 'publish') &&
        (typeof channel !== 'string' || !CHANNEL_RE.test(channel))) {
      return sendError(ws, id, 'bad_channel', 'invalid channel name');
    }
    switch (type) {
      case 'subscribe': {
        let ch = channels.get(channel);
        if (!ch) channels.set(channel, (ch = { subs: new Set(), offset: 0 }));
        ch.subs.add(ws);
        mine.add(channel);
        return sendJson(ws, { type: 'subscribed', id, channel, offset: ch.offset });
      }
      case 'unsubscribe': {
        channels.get(channel)?.subs.delete(ws);
        mine.delete(channel);
        return sendJson(ws, { type: 'unsubscribed', id, channel });
      }
      case 'publish': {
        const offset = publish(channel, msg.data);
        if (id !== undefined) sendJson(ws, { type: 'published', id, channel, offset });
        return;
      }
      case 'ping':
        return sendJson(ws, { type: 'pong', id });
      default:
        return sendError(ws, id, 'bad_request', `unknown type ${JSON.stringify(type)}`);
    }
  });

  ws.on('close', () => {
    for (const name of mine) {
      const ch = channels.get(name);
      if (!ch) continue;
      ch.subs.delete(ws);
      if (ch.subs.size === 0 && ch.offset === 0) channels.delete(name);
    }
  });
  ws.on('error', () => {});
});

// Keepalive like Switchboard's: ping every 30 s (PING_INTERVAL_MS), drop peers that missed the last one.
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, Number(process.env.PING_INTERVAL_MS ?? 30_000));

server.listen(port, host, () => {
  console.error(`ws-server listening on ${host}:${port} (node ${process.versions.node})`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    clearInterval(heartbeat);
    for (const ws of wss.clients) ws.terminate();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  });
}
