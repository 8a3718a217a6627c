// The demo: a chat room and a streamed answer, built on the TypeScript SDK (clients/js, package
// `switchboard-client`). Everything real-time goes through the SDK; only the pretend LLM backend
// (fake-backend.ts, dev only) uses the HTTP API.
import { Switchboard } from 'switchboard-client';
import type { ConnectionState, Member, Message, PresenceTracker, StreamState, StreamTracker, Subscription, TypingHandle } from 'switchboard-client';
import './style.css';
import { $, el, formatTime, HttpApi, onLoopback, wsUrl } from '../common/api';
import { streamFakeAnswer } from './fake-backend';
import type { ProducerState } from './fake-backend';

interface ChatData {
  user?: string;
  text?: string;
}

const params = new URLSearchParams(location.search);
const TOKEN_MS = Math.max(5, Math.min(2000, Number(params.get('token_ms')) || 30));
const HISTORY_ON_JOIN = 50;
const KEPT = 200;

const nameInput = $('name') as HTMLInputElement;
const roomInput = $('room') as HTMLInputElement;
nameInput.value = params.get('name') ?? '';
if (params.get('room')) roomInput.value = params.get('room')!;

// ---- connection ------------------------------------------------------------------------------

interface Session {
  sb: Switchboard;
  name: string;
  channel: string;
  answerChannel: string;
  room: Subscription<ChatData>;
  presence: PresenceTracker;
  typing: TypingHandle;
  answers: StreamTracker;
  offs: (() => void)[];
}

let session: Session | null = null;
// Shown as data attributes of #conn-state, for the curious (and the browser tests).
let connects = 0;
let attempts = 0;

const connState = $('conn-state');
function showState(state: ConnectionState | 'idle'): void {
  const labels: Record<string, string> = {
    idle: 'not connected', connecting: 'connecting…', connected: 'connected', disconnected: 'reconnecting…', closed: 'closed',
  };
  connState.dataset.state = state;
  connState.textContent = labels[state] ?? state;
  const roomState = $('room-state');
  roomState.dataset.state = state;
  roomState.textContent = state === 'connected' ? 'live' : labels[state] ?? state;
}

// ---- chat: messages ----------------------------------------------------------------------------

interface Entry {
  key: number;  // the offset; system lines sit between offsets
  node: HTMLLIElement;
}

const list = $('chat-messages');
let entries: Entry[] = [];
const offsets = new Set<number>();
let lastOffset = 0;

function chatLine(m: { offset: number; ts: number; data: ChatData | unknown }, fromHistory: boolean): HTMLLIElement {
  const d = (m.data ?? {}) as ChatData;
  const who = typeof d.user === 'string' ? d.user : '?';
  const text = typeof d.text === 'string' ? d.text : JSON.stringify(m.data);
  const li = el('li', { 'data-offset': String(m.offset), 'data-user': who, class: fromHistory ? 'history' : '' },
    el('span', { class: 'who', text: who }),
    el('span', { class: 'text', text }),
    el('span', { class: 'ts', text: formatTime(m.ts) }));
  if (session && who === session.name) li.classList.add('mine');
  return li;
}

function insert(entry: Entry): void {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  let i = entries.length;
  while (i > 0 && entries[i - 1]!.key > entry.key) i--;
  entries.splice(i, 0, entry);
  list.insertBefore(entry.node, entries[i + 1]?.node ?? null);
  while (entries.length > KEPT) entries.shift()!.node.remove();
  if (atBottom || entry.key >= lastOffset) list.scrollTop = list.scrollHeight;
}

// Each offset once: a message can come both from history and live, around the join.
function addMessage(m: { offset: number; ts: number; data: unknown }, fromHistory: boolean): void {
  if (offsets.has(m.offset)) return;
  const placeholder = entries.findIndex((e) => e.node.classList.contains('placeholder'));
  if (placeholder >= 0) entries.splice(placeholder, 1)[0]!.node.remove();
  offsets.add(m.offset);
  lastOffset = Math.max(lastOffset, m.offset);
  insert({ key: m.offset, node: chatLine(m, fromHistory) });
}

function addSystem(text: string, extraClass = ''): void {
  insert({ key: lastOffset + 0.5, node: el('li', { class: `system ${extraClass}`.trim(), text }) });
}

function clearMessages(): void {
  entries = [];
  offsets.clear();
  lastOffset = 0;
  list.replaceChildren();
}

async function loadHistory(s: Session): Promise<void> {
  try {
    const page = await s.room.history({ limit: HISTORY_ON_JOIN, reverse: true });
    if (session !== s) return;
    for (const m of page.messages) addMessage(m, true);
    if (page.messages.length === 0 && offsets.size === 0) addSystem('No messages yet. Say hello!', 'placeholder');
  } catch (e) {
    if (session === s) addSystem(`Could not load the history: ${(e as Error).message}`);
  }
}

// ---- chat: presence and typing -----------------------------------------------------------------

function renderMembers(members: Member[]): void {
  const byUser = new Map<string, number>();
  for (const m of members) byUser.set(m.user || '(anonymous)', (byUser.get(m.user || '(anonymous)') ?? 0) + 1);
  const names = [...byUser.keys()].sort((a, b) => a.localeCompare(b));
  $('members').replaceChildren(...names.map((u) => {
    const n = byUser.get(u)!;
    return el('li', { 'data-user': u, class: u === session?.name ? 'me' : '', title: `${n} connection${n > 1 ? 's' : ''}` },
      u + (u === session?.name ? ' (you)' : '') + (n > 1 ? ` ×${n}` : ''));
  }));
  $('member-count').textContent = `(${names.length})`;
}

function renderTyping(users: string[]): void {
  const names = [...new Set(users.map((u) => u || 'someone'))];
  const t = $('typing');
  t.dataset.users = names.join(',');
  if (names.length === 0) t.textContent = '';
  else if (names.length === 1) t.textContent = `${names[0]} is typing…`;
  else if (names.length <= 3) t.textContent = `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
  else t.textContent = 'Several people are typing…';
}

// ---- join / leave ----------------------------------------------------------------------------

function join(name: string, roomName: string): void {
  leave();
  clearMessages();
  const channel = `chat:${roomName}`;
  const sb = new Switchboard(wsUrl(), { user: name, info: { name } });
  const room = sb.subscribe<ChatData>(channel);
  const presence = sb.presenceTracker(channel);
  const typing = sb.typing(channel);
  const answerChannel = `ai:${roomName}`;
  const answers = sb.stream(answerChannel, {
    onStart: (s) => showStream(s, true),
    onDelta: (delta, s) => appendDelta(delta, s),
    onEnd: (s) => endStream(s),
  });
  const s: Session = { sb, name, channel, answerChannel, room, presence, typing, answers, offs: [] };
  session = s;
  s.offs.push(
    sb.on('state', (e) => showState(e.state)),
    sb.on('connected', () => {
      connects++;
      connState.dataset.connects = String(connects);
    }),
    sb.on('connecting', () => {
      attempts++;
      connState.dataset.attempts = String(attempts);
    }),
    room.on('message', (m: Message<ChatData>) => addMessage(m, false)),
    room.on('subscribed', (e) => {
      // First join: the last messages. A reconnect recovers what was missed by itself (the SDK
      // subscribes with `since`), so nothing to do then.
      if (!e.resubscribed) void loadHistory(s);
    }),
    room.on('reset', () => {
      // The server could not replay what we missed (the channel started over): reload.
      clearMessages();
      addSystem('The room started over; showing its history again.');
      void loadHistory(s);
    }),
    room.on('gap', (g) => addSystem(`Messages ${g.from}–${g.to} could not be fetched.`)),
    room.on('error', (e) => {
      const hint = e.code === 'UNKNOWN_CHANNEL' ? ' (start the server with a [namespaces.chat] table: see docs/dashboard.md)' : '';
      addSystem(`Room error: ${e.message}${hint}`);
    }),
    presence.on('error', (e) => {
      $('members').replaceChildren(el('li', { class: 'off', text: e.code === 'PERMISSION_DENIED' ? 'presence is off for chat: rooms' : e.message }));
    }),
    presence.on('change', renderMembers),
    presence.on('join', (e) => {
      if (e.user !== name) addSystem(`${e.user || 'someone'} joined`);
    }),
    presence.on('leave', (e) => {
      if (e.user !== name && !presence.users.includes(e.user)) addSystem(`${e.user || 'someone'} left`);
    }),
    typing.on('change', (typers) => renderTyping(typers.map((t) => t.user))),
  );
  showState(sb.state);
  $('room-title').textContent = channel;
  $('room-view').hidden = false;
  $('leave').hidden = false;
  ($('join') as HTMLButtonElement).textContent = 'Switch';
  $('answer-channel').textContent = answerChannel;
  ($('ask') as HTMLButtonElement).disabled = !onLoopback();
  renderMembers([]);
  renderTyping([]);
  resetAnswer();
  ($('message-input') as HTMLInputElement).focus();
}

function leave(): void {
  const s = session;
  if (!s) return;
  session = null;
  s.offs.forEach((off) => off());
  s.typing.dispose();
  s.presence.dispose();
  s.answers.dispose();
  s.room.unsubscribe();
  s.sb.close();
  $('room-view').hidden = true;
  $('leave').hidden = true;
  ($('join') as HTMLButtonElement).textContent = 'Join';
  ($('ask') as HTMLButtonElement).disabled = true;
  ($('cancel') as HTMLButtonElement).disabled = true;
  $('answer-channel').textContent = '(join a room first)';
  showState('idle');
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = nameInput.value.trim();
  const room = roomInput.value.trim();
  if (name && room) join(name, room);
});
$('leave').addEventListener('click', leave);

// ---- sending ---------------------------------------------------------------------------------

const input = $('message-input') as HTMLInputElement;
input.addEventListener('input', () => {
  if (!session) return;
  if (input.value.trim()) session.typing.touch();  // stops by itself 3 s after the last key
  else session.typing.stop();
});

$('send-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = session;
  const text = input.value.trim();
  if (!s || !text) return;
  input.value = '';
  s.typing.stop();
  const error = $('send-error');
  error.hidden = true;
  try {
    // While disconnected the SDK keeps it in its offline queue and sends it on reconnect.
    await s.sb.publish(s.channel, { user: s.name, text });
  } catch (err) {
    error.hidden = false;
    error.textContent = `Not sent: ${(err as Error).message}`;
  }
});

// ---- streamed answer ---------------------------------------------------------------------------

const answer = $('answer');
const streamStatus = $('stream-status');
let shownStream = '';
let tokens = 0;

function setStreamStatus(state: string, text: string): void {
  streamStatus.dataset.state = state;
  streamStatus.textContent = text;
}

function resetAnswer(): void {
  shownStream = '';
  tokens = 0;
  answer.replaceChildren();
  answer.className = 'answer-text';
  answer.dataset.tokens = '0';
  answer.dataset.seq = '0';
  delete answer.dataset.stream;
  delete answer.dataset.reason;
  setStreamStatus('idle', 'idle');
}

// A new stream in the room takes the panel (someone else may have asked).
function showStream(s: StreamState, fresh: boolean): void {
  if (fresh) resetAnswer();
  shownStream = s.id;
  answer.dataset.stream = s.id;
  const prompt = typeof s.meta?.prompt === 'string' ? s.meta.prompt : '';
  setStreamStatus('streaming', prompt ? `streaming an answer to “${prompt}”…` : 'streaming…');
  ($('cancel') as HTMLButtonElement).disabled = false;
}

function appendDelta(delta: string, s: StreamState): void {
  if (s.id !== shownStream) return;
  tokens++;
  answer.append(el('span', { class: 'tok', text: delta }));
  answer.dataset.tokens = String(tokens);
  answer.dataset.seq = String(s.seq);
}

function endStream(s: StreamState): void {
  if (s.id !== shownStream) return;
  const reason = s.reason ?? 'done';
  answer.dataset.reason = reason;
  answer.dataset.finalText = s.text;
  if (reason === 'cancelled') answer.classList.add('cancelled');
  const labels: Record<string, string> = {
    done: `done: ${tokens} deltas`,
    cancelled: 'cancelled',
    timeout: 'ended: the backend went quiet (timeout)',
    interrupted: 'interrupted while reconnecting',
  };
  setStreamStatus(reason === 'done' ? 'done' : reason, labels[reason] ?? `ended (${reason})`);
  ($('cancel') as HTMLButtonElement).disabled = true;
}

const api = new HttpApi(() => '');  // the dev-only backend half: no key, loopback only
let producing = false;

function setProducer(state: ProducerState, detail?: string): void {
  answer.dataset.producer = state;
  if (state === 'error') setStreamStatus('error', detail ?? 'error');
  ($('ask') as HTMLButtonElement).disabled = state === 'running' || !session || !onLoopback();
}

$('ask-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = session;
  if (!s || producing) return;
  producing = true;
  ($('ask') as HTMLButtonElement).disabled = true;
  setStreamStatus('starting', 'asking…');
  try {
    // Subscribed first, so that the stream's first frames reach us.
    await s.sb.getSubscription(s.answerChannel)?.ready;
    await streamFakeAnswer(api, s.answerChannel, ($('prompt') as HTMLInputElement).value, {
      tokenMs: TOKEN_MS,
      onState: setProducer,
    });
  } finally {
    producing = false;
    if (session === s) ($('ask') as HTMLButtonElement).disabled = !onLoopback();
  }
});

$('cancel').addEventListener('click', async () => {
  const s = session;
  if (!s || !shownStream) return;
  ($('cancel') as HTMLButtonElement).disabled = true;
  try {
    await s.answers.cancel(shownStream);  // stream_cancel over the WebSocket
  } catch (err) {
    setStreamStatus('error', `cancel failed: ${(err as Error).message}`);
  }
});

if (!onLoopback()) {
  $('dev-note').append(el('strong', { text: ' This page is not on localhost, so the Ask button is off.' }));
}
