// The cassettes app's backend: plain Node.js (no framework, no dependency) standing in for the
// document's Axum server. An in-memory list of cassettes with a REST API; every change is
// published as an event into the channel cassettes:all through Switchboard's HTTP API, which
// delivers it to every open page and keeps it in history, so a page that was away gets what it
// missed. The page loads the list here, with the channel position it reflects, and subscribes
// from that position.
//
// Environment: PORT (3000), SWITCHBOARD_URL (http://127.0.0.1:8080), SWITCHBOARD_WS (the URL the
// browser connects to, default derived from SWITCHBOARD_URL), SWITCHBOARD_API_KEY.
import { createServer } from 'node:http';
import { readJson, send, sendError, serveStatic } from '../../common/http-util.mjs';

const PORT = Number(process.env.PORT ?? 3000);
const SB = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8080';
const SB_WS = process.env.SWITCHBOARD_WS ?? `${SB.replace(/^http/, 'ws')}/ws`;
const KEY = process.env.SWITCHBOARD_API_KEY ?? '';
const CHANNEL = 'cassettes:all';

// ---- real-time part: publish each change, in order, until Switchboard has it ------------------

const headers = { 'Content-Type': 'application/json', ...(KEY ? { Authorization: `Bearer ${KEY}` } : {}) };
const outbox = [];        // events not yet accepted by Switchboard, oldest first
// While Switchboard is away the outbox grows with every change; past this many a change is
// refused (503, retryable) rather than kept in memory without end.
const MAX_OUTBOX = Number(process.env.CRUD_MAX_OUTBOX ?? 10000);
let position = null;      // {offset, epoch} of the last event Switchboard accepted
let flushing = false;

function publish(type, fields) {
  outbox.push({ type, ...fields, timestamp: new Date().toISOString() });
  void flush();
}

// One publish at a time keeps the events in order. While Switchboard is away (a restart), retry
// every 250 ms: the pages get the events from history when they are back.
async function flush() {
  if (flushing) return;
  flushing = true;
  while (outbox.length > 0) {
    try {
      const res = await fetch(`${SB}/api/publish`, { method: 'POST', headers, body: JSON.stringify({ channel: CHANNEL, data: outbox[0] }) });
      const body = await res.json();
      if (res.ok) {
        position = { offset: body.offset, epoch: body.epoch };
        outbox.shift();
        continue;
      }
      if (!body.error?.retryable) {
        console.error(`dropped ${outbox.shift().type}: ${body.error?.code} ${body.error?.message}`);
        continue;
      }
    } catch {
      // not reachable: retry below
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  flushing = false;
}

// Where the channel stands before this process published anything (its history survives us).
async function loadPosition() {
  for (;;) {
    const res = await fetch(`${SB}/api/history?channel=${CHANNEL}&limit=1&reverse=true`, { headers }).catch(() => null);
    const body = await res?.json();
    if (res?.ok) {
      // Until its first message a channel has no lasting epoch: no position to give then.
      if (body.offset > 0) position ??= { offset: body.offset, epoch: body.epoch };
      return;
    }
    console.error(`waiting for Switchboard at ${SB}: ${res ? `${body.error?.code} ${body.error?.message}` : 'not reachable'}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---- the app: cassettes -------------------------------------------------------------------------

const cassettes = new Map();  // name -> {name, description, recorded_at, interactions_count}
for (const [name, description, count] of [['login-flow', 'Sign in and sign out', 12], ['checkout', 'Cart to payment', 7]]) {
  cassettes.set(name, { name, description, recorded_at: '2025-10-27T09:00:00Z', interactions_count: count });
}

function onCreate(body, res) {
  if (outbox.length >= MAX_OUTBOX) return sendError(res, 503, 'UNAVAILABLE', 'live updates are behind; retry later', true);
  const { name, description = '' } = body;
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name) || typeof description !== 'string') {
    return sendError(res, 400, 'INVALID_MESSAGE', 'name: 1 to 64 letters, digits, . _ -; description: a string', false);
  }
  if (cassettes.has(name)) return sendError(res, 409, 'CONFLICT', `cassette '${name}' exists`, false);
  const cassette = { name, description, recorded_at: new Date().toISOString(), interactions_count: 0 };
  cassettes.set(name, cassette);
  publish('CassetteCreated', { cassette });
  send(res, 201, cassette);
}

function onUpdate(name, body, res) {
  if (outbox.length >= MAX_OUTBOX) return sendError(res, 503, 'UNAVAILABLE', 'live updates are behind; retry later', true);
  const cassette = cassettes.get(name);
  if (!cassette) return sendError(res, 404, 'NOT_FOUND', `no cassette '${name}'`, false);
  if (typeof body.description === 'string') cassette.description = body.description;
  if (Number.isInteger(body.interactions_count)) cassette.interactions_count = body.interactions_count;
  publish('CassetteUpdated', { cassette });
  send(res, 200, cassette);
}

function onDelete(name, res) {
  if (outbox.length >= MAX_OUTBOX) return sendError(res, 503, 'UNAVAILABLE', 'live updates are behind; retry later', true);
  if (!cassettes.delete(name)) return sendError(res, 404, 'NOT_FOUND', `no cassette '${name}'`, false);
  publish('CassetteDeleted', { name });
  res.writeHead(204).end();
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    const item = url.pathname.match(/^\/api\/cassettes\/([^/]+)$/);
    const name = item && decodeURIComponent(item[1]);
    if (url.pathname === '/api/cassettes' && req.method === 'GET') {
      // The list and the channel position it includes; `pending` events are in it but not yet in
      // the channel (they will be replayed on top: the page applies events idempotently).
      return send(res, 200, { cassettes: [...cassettes.values()], channel: CHANNEL, position, pending: outbox.length });
    }
    if (url.pathname === '/api/cassettes' && req.method === 'POST') return onCreate(await readJson(req), res);
    if (item && req.method === 'PUT') return onUpdate(name, await readJson(req), res);
    if (item && req.method === 'DELETE') return onDelete(name, res);
    if (url.pathname === '/api/config' && req.method === 'GET') return send(res, 200, { ws: SB_WS });
    if (req.method === 'GET') return serveStatic(new URL('../dist/', import.meta.url), url.pathname, res);
    sendError(res, 404, 'NOT_FOUND', 'no such endpoint', false);
  } catch (e) {
    sendError(res, e.status ?? 500, e.status ? 'INVALID_MESSAGE' : 'SERVER_ERROR', e.message, !e.status);
  }
});
await loadPosition();
server.listen(PORT, '127.0.0.1', () => console.log(`cassettes backend on http://127.0.0.1:${PORT}/ (Switchboard at ${SB})`));
