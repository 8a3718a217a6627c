// The cassettes page: the list, live. The real-time part is the SDK's: one WebSocket, the channel
// cassettes:all subscribed from the position the backend's list reflects, reconnection with
// backoff, recovery of every event missed while away, and the connection state for the badge.
import { Switchboard } from 'switchboard-client';
import type { Position } from 'switchboard-client';
import './style.css';

interface Cassette { name: string; description: string; recorded_at: string; interactions_count: number }
type CassetteEvent =
  | { type: 'CassetteCreated' | 'CassetteUpdated'; cassette: Cassette; timestamp: string }
  | { type: 'CassetteDeleted'; name: string; timestamp: string };

const $ = (id: string) => document.getElementById(id)!;
const cassettes = new Map<string, Cassette>();

// ---- real-time part -------------------------------------------------------------------------

const { ws } = await (await fetch('/api/config')).json();
const first = await loadList();
const sb = new Switchboard(ws, { reconnect: { minDelay: 500, maxDelay: 5000 } });
const sub = sb.subscribe<CassetteEvent>(first.channel, first.position ? { since: first.position } : {});
sub.on('message', (m) => {
  logEvent(m.offset, m.data);
  apply(m.data, true);
});
sub.on('subscribed', (e) => {
  // A channel that never had an event has no position yet: subscribed first, now take the list.
  if (!e.resubscribed && !first.position) void loadList();
});
sub.on('reset', () => void loadList());  // events were lost for good: take the list again
sub.on('error', (e) => showError(`${e.code}: ${e.message}`));

let connects = 0;
sb.on('connected', () => { $('badge').dataset.connects = String(++connects); });
sb.on('state', ({ state }) => {
  $('badge').dataset.state = state;
  $('badge').textContent = state === 'connected' ? 'Live' : connects === 0 ? 'Connecting...' : 'Reconnecting...';
});

// ---- the app ----------------------------------------------------------------------------------

async function loadList(): Promise<{ channel: string; position: Position | null }> {
  const list = await (await fetch('/api/cassettes')).json();
  cassettes.clear();
  $('cassettes').replaceChildren();
  for (const c of list.cassettes as Cassette[]) upsert(c, false);
  return list;
}

/** Applies an event (from the channel, or the answer to our own request): idempotent. */
function apply(e: CassetteEvent, notify: boolean): void {
  if (e.type === 'CassetteDeleted') {
    if (notify && cassettes.has(e.name)) snack(`Cassette deleted: ${e.name}`);
    remove(e.name);
    return;
  }
  if (notify && !(e.type === 'CassetteCreated' && cassettes.has(e.cassette.name))) {
    snack(`${e.type === 'CassetteCreated' ? 'New cassette' : 'Cassette updated'}: ${e.cassette.name}`);
  }
  upsert(e.cassette, true);
}

function upsert(c: Cassette, animate: boolean): void {
  cassettes.set(c.name, c);
  let row = rowOf(c.name);
  if (!row) {
    row = document.createElement('tr');
    row.dataset.name = c.name;
    row.innerHTML = '<td class="name"></td><td class="description"><input></td><td class="count"></td><td class="recorded"></td>' +
      '<td><button class="save">Save</button> <button class="delete">Delete</button></td>';
    if (animate) row.classList.add('fade-in');
    const input = row.querySelector('input')!;
    row.querySelector('.save')!.addEventListener('click', () => void request('PUT', c.name, { description: input.value }));
    row.querySelector('.delete')!.addEventListener('click', () => void request('DELETE', c.name));
    const after = [...$('cassettes').querySelectorAll<HTMLTableRowElement>('tr')].find((r) => r.dataset.name! > c.name);
    $('cassettes').insertBefore(row, after ?? null);
  }
  row.querySelector('.name')!.textContent = c.name;
  const input = row.querySelector('input')!;
  if (document.activeElement !== input) input.value = c.description;
  row.querySelector('.count')!.textContent = String(c.interactions_count);
  row.querySelector('.recorded')!.textContent = new Date(c.recorded_at).toLocaleString();
}

function remove(name: string): void {
  cassettes.delete(name);
  const row = rowOf(name);
  if (!row || row.classList.contains('fade-out')) return;
  row.classList.add('fade-out');
  setTimeout(() => row.remove(), 300);
}

function rowOf(name: string): HTMLTableRowElement | undefined {
  return [...$('cassettes').querySelectorAll<HTMLTableRowElement>('tr')].find((r) => r.dataset.name === name && !r.classList.contains('fade-out'));
}

async function request(method: string, name: string | null, body?: unknown): Promise<void> {
  $('error').hidden = true;
  const res = await fetch(name === null ? '/api/cassettes' : `/api/cassettes/${encodeURIComponent(name)}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((e: Error) => ({ ok: false, status: 0, json: async () => ({ error: { code: 'UNAVAILABLE', message: e.message } }) }));
  if (!res.ok) {
    const { error } = await res.json();
    return showError(`${error.code}: ${error.message}`);
  }
  // Our own change shows at once, even while the live connection is away; its event confirms it.
  if (method === 'DELETE') remove(name!);
  else upsert(await res.json(), true);
}

function logEvent(offset: number, e: CassetteEvent): void {
  const li = document.createElement('li');
  li.value = offset;
  li.dataset.offset = String(offset);
  li.textContent = `${e.type} ${e.type === 'CassetteDeleted' ? e.name : e.cassette.name}`;
  $('events').append(li);
  $('events').scrollTop = $('events').scrollHeight;
}

function snack(text: string): void {
  const div = document.createElement('div');
  div.textContent = text;
  $('snackbar').append(div);
  setTimeout(() => div.remove(), 3000);
}

function showError(text: string): void {
  $('error').hidden = false;
  $('error').textContent = text;
}

$('create-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = ($('new-name') as HTMLInputElement).value.trim();
  const description = ($('new-description') as HTMLInputElement).value.trim();
  (e.target as HTMLFormElement).reset();
  void request('POST', null, { name, description });
});
