// The chat app's backend: plain Node.js (no framework, no dependency) standing in for the
// document's Next.js custom server. It keeps what an app keeps (users and their sessions, the
// rooms and who may enter them, the messages) and answers Switchboard's proxies, which carry the
// browser's own session cookie: connect (who is this?), subscribe (may they join this room?),
// publish (store this message, give it an id, or refuse it) and rpc (the room list, search).
// Switchboard does the WebSocket part: delivery, history on join, typing, presence, reconnection.
//
// Environment: PORT (3000), SWITCHBOARD_URL (http://127.0.0.1:8080), SWITCHBOARD_WS_PORT (the
// port the browser connects to, default SWITCHBOARD_URL's), SWITCHBOARD_API_KEY, CHAT_DATA (the
// messages file, default data/messages.json here).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname } from 'node:path';
import { readJson, send, sendError, serveStatic } from '../../common/http-util.mjs';

const PORT = Number(process.env.PORT ?? 3000);
const SB = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8080';
const SB_WS_PORT = process.env.SWITCHBOARD_WS_PORT ?? new URL(SB).port;
const KEY = process.env.SWITCHBOARD_API_KEY ?? '';
const DATA = process.env.CHAT_DATA ?? new URL('../data/messages.json', import.meta.url).pathname;
const MAX_TEXT = 500;

// ---- the app: users, sessions, rooms, messages ------------------------------------------------

const USERS = { alice: { name: 'Alice', password: 'alice' }, bob: { name: 'Bob', password: 'bob' }, carol: { name: 'Carol', password: 'carol' } };
const ROOMS = [
  { id: 'general', title: 'General' },
  { id: 'random', title: 'Random' },
  { id: 'staff', title: 'Staff only', members: ['alice', 'carol'] },  // private: only these may join
];
const BOT = { user: 'roombot', info: { name: 'Room bot' } };
const sessions = new Map();  // session cookie -> user id

const mayJoin = (user, room) => !!room && (!room.members || room.members.includes(user));
const roomOf = (channel) => ROOMS.find((r) => `room:${r.id}` === channel);

let messages = [];  // {id, room, user, text, ts}, oldest first
try {
  messages = JSON.parse(readFileSync(DATA, 'utf8'));
} catch {
  // no file yet: a new store
}
function store(room, user, text) {
  const m = { id: `m${messages.length + 1}`, room, user, text, ts: Date.now() };
  messages.push(m);
  mkdirSync(dirname(DATA), { recursive: true });
  writeFileSync(DATA, JSON.stringify(messages));
  return m;
}

const sessionId = (req) => /(?:^|;\s*)chat_session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1] ?? '';
const sessionUser = (req) => sessions.get(sessionId(req));

function login(body, res) {
  const user = USERS[body.user];
  if (!user || body.password !== user.password) return sendError(res, 401, 'BAD_LOGIN', 'wrong user or password', false);
  const sid = randomBytes(18).toString('base64url');
  sessions.set(sid, body.user);
  res.setHeader('Set-Cookie', `chat_session=${sid}; HttpOnly; SameSite=Lax; Path=/`);
  send(res, 200, { user: body.user, name: user.name });
}

// ---- real-time part: Switchboard's proxies -----------------------------------------------------

const hooks = {
  // The browser's cookie came with the WebSocket upgrade: no token, no auth message.
  connect(body, req) {
    const user = sessionUser(req);
    if (!user) return { disconnect: { code: 4401, reason: 'not logged in' } };
    return { result: { user, info: { name: USERS[user].name } } };
  },
  subscribe({ user, channel }) {
    const room = roomOf(channel);
    if (!room) return { error: { code: 'NO_SUCH_ROOM', message: `no room ${channel}` } };
    if (!mayJoin(user, room)) return { error: { code: 'NOT_A_MEMBER', message: `${room.title} is for its members only` } };
    return { result: { info: { title: room.title } } };
  },
  // Stored first, then delivered as stored: the backend's id and time, the client's cid (to match
  // its pending message), nothing else the client sent. The sender is the server's `from`.
  publish({ user, channel, data }) {
    const text = typeof data?.text === 'string' ? data.text.trim() : '';
    if (!text) return { error: { code: 'EMPTY_MESSAGE', message: 'say something' } };
    if (text.length > MAX_TEXT) return { error: { code: 'MESSAGE_TOO_LONG', message: `at most ${MAX_TEXT} characters` } };
    const m = store(roomOf(channel).id, user, text);
    return { result: { data: { id: m.id, text, ts: m.ts, cid: String(data.cid ?? '').slice(0, 64) } } };
  },
  rpc({ user, method, data }) {
    if (method === 'rooms') {
      return { result: { data: ROOMS.map((r) => ({ id: r.id, title: r.title, private: !!r.members, member: mayJoin(user, r) })) } };
    }
    if (method === 'search') {
      const q = String(data?.q ?? '').toLowerCase();
      const found = messages.filter((m) => mayJoin(user, roomOf(`room:${m.room}`)) && q && m.text.toLowerCase().includes(q));
      return { result: { data: found.slice(-20) } };
    }
    return { error: { code: 'NO_SUCH_METHOD', message: String(method) } };
  },
};

// The backend's own messages (a welcome in each new room, announcements), published over the HTTP
// API in order and retried while Switchboard is away, so none is lost across its restarts.
const headers = { 'Content-Type': 'application/json', ...(KEY ? { Authorization: `Bearer ${KEY}` } : {}) };
const outbox = [];
const MAX_OUTBOX = 1000;
let flushing = false;

function announce(room, text) {
  if (outbox.length >= MAX_OUTBOX) return false;
  const m = store(room, BOT.user, text);
  outbox.push({ channel: `room:${room}`, data: { id: m.id, text, ts: m.ts }, from: BOT });
  void flush();
  return true;
}

async function flush() {
  if (flushing) return;
  flushing = true;
  while (outbox.length > 0) {
    const res = await fetch(`${SB}/api/publish`, { method: 'POST', headers, body: JSON.stringify(outbox[0]) }).catch(() => null);
    const body = await res?.json().catch(() => null);
    if (res?.ok) outbox.shift();
    else if (res && body?.error?.retryable === false) console.error(`dropped an announcement: ${body.error.code} ${body.error.message}`, outbox.shift());
    else await new Promise((r) => setTimeout(r, 250));
  }
  flushing = false;
}

// ---- HTTP ---------------------------------------------------------------------------------------

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    const hook = url.pathname.startsWith('/sb/') && hooks[url.pathname.slice(4)];
    if (hook && req.method === 'POST') return send(res, 200, hook(await readJson(req), req));
    if (url.pathname === '/api/login' && req.method === 'POST') return login(await readJson(req), res);
    if (url.pathname === '/api/logout' && req.method === 'POST') {
      sessions.delete(sessionId(req));
      res.setHeader('Set-Cookie', 'chat_session=; Max-Age=0; Path=/');
      return send(res, 200, {});
    }
    if (url.pathname === '/api/me' && req.method === 'GET') {
      const user = sessionUser(req);
      return user ? send(res, 200, { user, name: USERS[user].name }) : sendError(res, 401, 'NOT_LOGGED_IN', 'log in first', false);
    }
    // The WebSocket URL on the page's own host name, so that the session cookie goes with it.
    if (url.pathname === '/api/config' && req.method === 'GET') {
      const host = (req.headers.host ?? '127.0.0.1').replace(/:\d+$/, '');
      return send(res, 200, { ws: `ws://${host}:${SB_WS_PORT}/ws` });
    }
    const room = url.pathname.match(/^\/api\/rooms\/(\w+)\/(messages|announce)$/);
    if (room && !ROOMS.some((r) => r.id === room[1])) return sendError(res, 404, 'NOT_FOUND', 'no such room', false);
    if (room?.[2] === 'messages' && req.method === 'GET') {
      const user = sessionUser(req);
      if (!mayJoin(user, roomOf(`room:${room[1]}`))) return sendError(res, 403, 'NOT_A_MEMBER', 'not your room', false);
      return send(res, 200, { messages: messages.filter((m) => m.room === room[1]) });
    }
    // An announcement from the app itself (an admin tool, a cron job...): here, for anyone.
    if (room?.[2] === 'announce' && req.method === 'POST') {
      const { text } = await readJson(req);
      if (typeof text !== 'string' || !text) return sendError(res, 400, 'INVALID_MESSAGE', 'text: a string', false);
      return announce(room[1], text) ? send(res, 202, { pending: outbox.length }) : sendError(res, 503, 'UNAVAILABLE', 'too many announcements waiting', true);
    }
    if (url.pathname === '/api/status' && req.method === 'GET') return send(res, 200, { pending: outbox.length, stored: messages.length });
    if (req.method === 'GET') return serveStatic(new URL('../dist/', import.meta.url), url.pathname, res);
    sendError(res, 404, 'NOT_FOUND', 'no such endpoint', false);
  } catch (e) {
    sendError(res, e.status ?? 500, e.status ? 'INVALID_MESSAGE' : 'SERVER_ERROR', e.message, !e.status);
  }
});

// A welcome message in each room that has none yet (a new store).
for (const r of ROOMS) if (!messages.some((m) => m.room === r.id)) announce(r.id, `Welcome to ${r.title}!`);
server.listen(PORT, '127.0.0.1', () => console.log(`chat backend on http://127.0.0.1:${PORT}/ (Switchboard at ${SB})`));
