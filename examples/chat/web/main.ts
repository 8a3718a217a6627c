// The chat page: log in, pick a room, talk. The real-time part is the SDK's: one WebSocket
// (authenticated by the backend's session cookie through the connect proxy), a subscription per
// room (the backend's subscribe proxy says who may join), publish with its reply as the ack (the
// backend's publish proxy stores the message and gives it its id), history on join, typing and
// presence helpers, reconnection with recovery, the connection state for the badge.
import { Switchboard, SwitchboardError } from 'switchboard-client';
import type { Member, PresenceTracker, Sender, Subscription, TypingHandle, Typer } from 'switchboard-client';
import './style.css';

/** A message as the backend stored it (its publish proxy's answer replaced what the page sent). */
interface ChatData { id: string; text: string; ts: number; cid?: string }
interface Room { id: string; title: string; private: boolean; member: boolean }
interface Shown { offset: number; ts: number; data: ChatData; from?: Sender }

const $ = (id: string) => document.getElementById(id)!;
const input = $('text') as HTMLInputElement;
let me = { user: '', name: '' };
const names = new Map<string, string>();             // user -> display name, from `from` and presence
const byOffset = new Map<number, HTMLLIElement>();   // the room's messages shown
const pending = new Map<string, HTMLLIElement>();    // this page's messages by cid, until delivered

// ---- real-time part -------------------------------------------------------------------------

let sb: Switchboard;
let current: { room: Room; sub: Subscription<ChatData>; typing: TypingHandle; presence: PresenceTracker; offs: (() => void)[] } | null = null;

async function start(): Promise<void> {
  const { ws } = await (await fetch('/api/config')).json();
  sb = new Switchboard(ws, { reconnect: { minDelay: 500, maxDelay: 5000 } });
  let connects = 0;
  sb.on('connected', () => { $('badge').dataset.connects = String(++connects); });
  sb.on('state', ({ state }) => {
    $('badge').dataset.state = state;
    $('badge').textContent = state === 'connected' ? 'Live' : connects === 0 ? 'Connecting...' : 'Reconnecting...';
  });
  sb.on('error', (e) => showError(e));
  renderRooms(await sb.rpc<Room[]>('rooms'));
}

async function join(room: Room): Promise<void> {
  if (current?.room.id === room.id) return;
  const channel = `room:${room.id}`;
  const sub = sb.subscribe<ChatData>(channel);
  try {
    await sub.ready;                        // the backend said yes (or refused, with its code)
  } catch (e) {
    sub.unsubscribe();
    return showError(e);
  }
  leave();
  const typing = sb.typing(channel);
  const presence = sb.presenceTracker(channel);
  const offs = [
    sub.on('message', (m) => show(m)),
    sub.on('reset', () => void loadHistory(channel, true)),  // missed messages are gone: reload
    typing.on('change', (typers) => showTypers(typers)),
    presence.on('change', (members) => showPresence(members)),
  ];
  current = { room, sub, typing, presence, offs };
  openRoom(room);
  await loadHistory(channel, false);
}

function leave(): void {
  if (!current) return;
  current.offs.forEach((off) => off());
  current.typing.dispose();
  current.presence.dispose();
  current.sub.unsubscribe();
  current = null;
}

// The last 50, merged with what arrives live meanwhile (each offset once).
async function loadHistory(channel: string, clear: boolean): Promise<void> {
  const page = await sb.history<ChatData>(channel, { limit: 50, reverse: true });
  if (current?.sub.channel !== channel) return;
  if (clear) { byOffset.forEach((li) => li.remove()); byOffset.clear(); }
  for (const m of page.messages) show(m);
}

async function send(text: string): Promise<void> {
  const room = current!;
  room.typing.stop();
  const cid = crypto.randomUUID();
  const li = messageItem({ user: me.user, client: '', info: { name: me.name } }, text, Date.now());
  li.dataset.state = 'pending';
  li.querySelector('.status')!.textContent = 'sending...';
  pending.set(cid, li);
  place(li);
  try {
    const ack = await room.sub.publish({ text, cid } as ChatData);  // waits offline, sent on reconnection
    li.dataset.state = 'confirmed';
    li.dataset.offset ||= String(ack.offset);
    li.querySelector('.status')!.textContent = '✓';
    place(li);
  } catch (e) {
    const code = e instanceof SwitchboardError ? e.code : 'ERROR';
    // Lost in flight (DISCONNECTED, TIMEOUT): it may have been stored. If it comes back through
    // recovery, show() takes this item over and confirms it.
    if (code !== 'DISCONNECTED' && code !== 'TIMEOUT') pending.delete(cid);
    li.dataset.state = 'failed';
    li.dataset.code = code;
    li.querySelector('.status')!.textContent = code;
  }
}

input.addEventListener('input', () => current?.typing.touch());  // stops 3 s after the last key

// ---- the app ----------------------------------------------------------------------------------

/** Shows a stored message (live, recovered or from history) once; the name is the server's `from`. */
function show(m: Shown): void {
  if (byOffset.has(m.offset)) return;
  const mine = m.from?.user === me.user && m.data.cid ? pending.get(m.data.cid) : undefined;
  const li = mine ?? messageItem(m.from, m.data.text, m.ts);
  if (mine) pending.delete(m.data.cid!);
  if (mine?.dataset.state === 'failed') {  // its reply was lost, but it was stored
    mine.dataset.state = 'confirmed';
    delete mine.dataset.code;
    mine.querySelector('.status')!.textContent = '✓';
  }
  li.dataset.offset = String(m.offset);
  li.dataset.id = m.data.id;
  li.querySelector('.text')!.textContent = m.data.text;
  if (m.from?.user) names.set(m.from.user, nameOf(m.from));
  byOffset.set(m.offset, li);
  place(li);
}

function messageItem(from: Sender | undefined, text: string, ts: number): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset.state = 'confirmed';
  li.dataset.user = from?.user ?? '';
  li.innerHTML = '<span class="name"></span><span class="text"></span><span class="time"></span><span class="status"></span>';
  li.querySelector('.name')!.textContent = nameOf(from);
  li.querySelector('.text')!.textContent = text;
  li.querySelector('.time')!.textContent = new Date(ts).toLocaleTimeString();
  return li;
}

const nameOf = (from?: Sender) => String(from?.info?.name ?? from?.user ?? 'someone');

/** In offset order; messages not yet stored (no offset) last, in the order sent. */
function place(li: HTMLLIElement): void {
  const list = $('messages');
  const offset = li.dataset.offset ? Number(li.dataset.offset) : Infinity;
  const next = [...list.children].find((c) => c !== li && (c as HTMLElement).dataset.offset !== undefined && Number((c as HTMLElement).dataset.offset) > offset)
    ?? (offset === Infinity ? null : [...list.children].find((c) => c !== li && !(c as HTMLElement).dataset.offset));
  if (li.parentElement !== list || li.nextElementSibling !== (next ?? null)) list.insertBefore(li, next ?? null);
  list.scrollTop = list.scrollHeight;
}

function showTypers(typers: Typer[]): void {
  const who = [...new Set(typers.map((t) => names.get(t.user) ?? t.user))];
  $('typing').textContent = who.length === 0 ? '' : `${who.join(' and ')} ${who.length === 1 ? 'is' : 'are'} typing…`;
}

function showPresence(members: Member[]): void {
  const users = new Map<string, string>();
  for (const m of members) users.set(m.user, String(m.info?.name ?? m.user));
  users.forEach((name, user) => names.set(user, name));
  $('presence').replaceChildren(...[...users].map(([user, name]) => {
    const li = document.createElement('li');
    li.dataset.user = user;
    li.textContent = name;
    return li;
  }));
}

function renderRooms(rooms: Room[]): void {
  $('rooms').replaceChildren(...rooms.map((room) => {
    const li = document.createElement('li');
    Object.assign(li.dataset, { room: room.id, private: String(room.private), member: String(room.member) });
    const button = document.createElement('button');
    button.textContent = `# ${room.title}`;
    if (room.private) button.insertAdjacentHTML('beforeend', ' <span class="tag">private</span>');
    button.addEventListener('click', () => void join(room));
    li.append(button);
    return li;
  }));
}

function openRoom(room: Room): void {
  $('error').hidden = true;
  $('room-title').textContent = room.title;
  document.querySelectorAll<HTMLElement>('#rooms li').forEach((li) => li.classList.toggle('current', li.dataset.room === room.id));
  byOffset.clear();
  pending.clear();
  $('messages').replaceChildren();
  $('typing').textContent = '';
  input.disabled = false;
  ($('send') as HTMLButtonElement).disabled = false;
  input.focus();
}

function showError(e: unknown): void {
  $('error').hidden = false;
  $('error').textContent = e instanceof SwitchboardError ? `${e.code}: ${e.message}` : String(e);
  if (e instanceof SwitchboardError) $('error').dataset.code = e.code;
}

$('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (!current || input.value === '') return;
  const text = input.value;
  input.value = '';
  void send(text);
});

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await fetch('/api/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user: ($('login-user') as HTMLSelectElement).value, password: ($('login-password') as HTMLInputElement).value }),
  });
  const body = await res.json();
  if (!res.ok) {
    $('login-error').hidden = false;
    $('login-error').textContent = `${body.error.code}: ${body.error.message}`;
    return;
  }
  loggedIn(body);
});

$('logout').addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST' });
  location.reload();
});

function loggedIn(who: { user: string; name: string }): void {
  me = who;
  $('me').textContent = who.name;
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  void start();
}

const whoami = await fetch('/api/me');
if (whoami.ok) loggedIn(await whoami.json());
else $('login').hidden = false;
