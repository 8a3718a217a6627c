// The coaching app's backend: plain Node.js (no framework, no dependency). It serves the page,
// takes the user's question over HTTP, "generates" the answer with the fake LLM and streams it
// into the conversation's channel through Switchboard's stream API. Switchboard carries it to
// every open tab, and tells us at /api/ai/cancel when someone presses Stop.
//
// Environment: PORT (3000), SWITCHBOARD_URL (http://127.0.0.1:8080), SWITCHBOARD_WS (the URL the
// browser connects to, default derived from SWITCHBOARD_URL), SWITCHBOARD_API_KEY, CANCEL_SECRET
// (the server's [streams] cancel_secret), TOKEN_MS (pause before each token, 60).
import { createServer, request } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { serveStatic, readJson, send, sendError } from '../../common/http-util.mjs';
import { generate } from './fake-llm.mjs';

const PORT = Number(process.env.PORT ?? 3000);
const SB = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8080';
const SB_WS = process.env.SWITCHBOARD_WS ?? `${SB.replace(/^http/, 'ws')}/ws`;
const KEY = process.env.SWITCHBOARD_API_KEY ?? '';
const CANCEL_SECRET = Buffer.from(process.env.CANCEL_SECRET ?? '');
const TOKEN_MS = Number(process.env.TOKEN_MS ?? 60);

// ---- real-time part: Switchboard's HTTP API ---------------------------------------------------

const headers = { 'Content-Type': 'application/json', ...(KEY ? { Authorization: `Bearer ${KEY}` } : {}) };

async function switchboard(path, body) {
  const res = await fetch(SB + path, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw Object.assign(new Error(json.error?.message ?? res.statusText), json.error);
  return json;
}

/** Pipes the model's tokens into a started stream, one JSON string per line, as they come. */
async function pipeAnswer(stream, question, generation) {
  const pipe = request(`${SB}/api/streams/${stream}/pipe`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/x-ndjson' },  // one JSON value a line
  });
  const answered = new Promise((resolve) => {
    pipe.on('response', (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    pipe.on('error', (e) => {  // the server went away: the stream is gone, stop the model
      generation.abort.abort();
      resolve(e.message);
    });
  });
  try {
    for await (const token of generate(question, { tokenMs: TOKEN_MS, signal: generation.abort.signal })) {
      pipe.write(`${JSON.stringify(token)}\n`);
      generation.tokens++;
    }
  } catch (e) {
    if (e.name !== 'AbortError') throw e;  // aborted by the cancel webhook below, or the error above
  } finally {
    pipe.end();  // the end of the body ends the stream (reason "done"), unless it was cancelled
  }
  const status = await answered;
  if (generation.state === 'running') generation.state = status === 200 ? 'done' : `failed: ${status}`;
}

// The server POSTs {stream, channel, reason} here when a client cancels ([streams] cancel_url),
// with X-Switchboard-Secret. Without CANCEL_SECRET (and cancel_secret) anyone may call it.
function onCancel(body, req, res) {
  const secret = Buffer.from(req.headers['x-switchboard-secret'] ?? '');
  if (secret.length !== CANCEL_SECRET.length || !timingSafeEqual(secret, CANCEL_SECRET)) {
    return sendError(res, 401, 'AUTH_FAILED', 'bad X-Switchboard-Secret', false);
  }
  const g = [...generations.values()].find((x) => x.stream === body.stream);
  if (g && g.state === 'running') {
    g.state = 'cancelled';
    g.abort.abort();
  }
  send(res, 200, { stopped: Boolean(g) });
}

// ---- the app ----------------------------------------------------------------------------------

/** The last generations, oldest first: at most one running per conversation. */
const generations = new Map();  // id -> {id, conversation, stream, tokens, state, abort}
const KEPT = 100;
let nextId = 1;

async function onChat(body, res) {
  const { conversationId, content, replyTo } = body;
  if (typeof conversationId !== 'string' || !/^[\w-]{1,64}$/.test(conversationId) ||
      typeof content !== 'string' || !content.trim() || content.length > 2000) {
    return sendError(res, 400, 'INVALID_MESSAGE', 'give a conversationId and a question of 1 to 2000 characters', false);
  }
  const busy = [...generations.values()].some((g) => g.conversation === conversationId && g.state === 'running');
  if (busy) return sendError(res, 429, 'RATE_LIMIT', 'the coach is still answering; try again when the answer ends', true);
  const g = { id: nextId++, conversation: conversationId, stream: null, tokens: 0, state: 'running', abort: new AbortController() };
  generations.set(g.id, g);
  if (generations.size > KEPT) generations.delete(generations.keys().next().value);
  try {
    const meta = { reply_to: replyTo ?? null, model: 'fake-coach-1' };
    g.stream = (await switchboard('/api/streams', { channel: `ai:${conversationId}`, meta })).stream;
  } catch (e) {
    g.state = `failed: ${e.message}`;
    return sendError(res, 503, 'GENERATION_FAILED', `could not start the answer: ${e.message}`, true);
  }
  pipeAnswer(g.stream, content, g).catch((e) => { g.state = `failed: ${e.message}`; });
  send(res, 202, { stream: g.stream });
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/ai/chat') return await onChat(await readJson(req), res);
    if (req.method === 'POST' && url.pathname === '/api/ai/cancel') return onCancel(await readJson(req), req, res);
    if (req.method === 'GET' && url.pathname === '/api/config') return send(res, 200, { ws: SB_WS });
    // For the curious and the tests: what the fake model produced, and whether it stopped.
    if (req.method === 'GET' && url.pathname === '/api/ai/generations') {
      return send(res, 200, [...generations.values()].map(({ abort, ...g }) => g));
    }
    if (req.method === 'GET') return serveStatic(new URL('../dist/', import.meta.url), url.pathname, res);
    sendError(res, 404, 'NOT_FOUND', 'no such endpoint', false);
  } catch (e) {
    sendError(res, e.status ?? 500, e.status ? 'INVALID_MESSAGE' : 'SERVER_ERROR', e.message, !e.status);
  }
});
server.listen(PORT, '127.0.0.1', () => console.log(`coaching backend on http://127.0.0.1:${PORT}/ (Switchboard at ${SB})`));
