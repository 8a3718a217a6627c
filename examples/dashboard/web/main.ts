// The agent dashboard: log in, tick the circles (and projects) to watch, see their events live.
// The real-time part is the SDK's: one WebSocket to /ws/dashboard (authenticated by the backend's
// session cookie through the connect proxy), one subscription per circle (the backend's subscribe
// proxy says who may see it) with a filter over the events' tags (evaluated by the server), the
// connection state for the badge, ping, reconnection with recovery.
import { Switchboard, SwitchboardError } from 'switchboard-client';
import type { Filter, Message, Subscription } from 'switchboard-client';
import './style.css';

/** An event of the backend's bus, as it publishes it (the document's event shape). */
interface DashEvent {
  type: string;
  data: { title?: string; agent?: string };
  circles: string[];
  project: string | null;
  event_id: string;
  timestamp: string;
}
interface Circle { id: string; title: string; projects: string[]; member: boolean }
/** What the user ticked for one circle: no project means the whole circle. */
interface Selection { circle: string; projects: string[] }

const $ = (id: string) => document.getElementById(id)!;
let circles: Circle[] = [];

// ---- real-time part -------------------------------------------------------------------------

let sb: Switchboard;
let watching: { sub: Subscription<DashEvent>; off: () => void }[] = [];

function start(): void {
  void fetch('/api/config').then(async (r) => {
    sb = new Switchboard((await r.json()).ws, { reconnect: { minDelay: 500, maxDelay: 5000 } });
    let connects = 0;
    sb.on('connected', ({ client }) => {  // the document's connection.established
      $('badge').dataset.connects = String(++connects);
      $('client').textContent = `client ${client}`;
    });
    sb.on('state', ({ state }) => {
      $('badge').dataset.state = state;
      $('badge').textContent = state === 'connected' ? 'Live' : connects === 0 ? 'Connecting...' : 'Reconnecting...';
    });
    sb.on('error', (e) => showError(e));
    void watch(selected());
  });
}

// One subscription per circle, each with a filter: the projects ticked in it, and not what a
// circle subscribed before it already delivers (an event of two circles comes once).
async function watch(selection: Selection[]): Promise<void> {
  for (const w of watching) { w.off(); w.sub.unsubscribe(); }
  watching = [];
  clearView();
  const accepted: Selection[] = [];
  for (const s of selection) {
    const sub = sb.subscribe<DashEvent>(`circle:${s.circle}`, { filter: filterFor(s, accepted) });
    try {
      await sub.ready;                        // the backend said yes, or refused with its code
    } catch (e) {
      sub.unsubscribe();
      markCircle(s.circle, 'refused');
      showError(e, s.circle);
      continue;
    }
    accepted.push(s);
    markCircle(s.circle, 'watching');
    watching.push({ sub, off: sub.on('message', (m) => show(m, s.circle)) });
  }
}

const ownFilter = (s: Selection): Filter | null => (s.projects.length ? { in: ['project', s.projects] } : null);

function filterFor(s: Selection, earlier: Selection[]): Filter | undefined {
  const parts: Filter[] = [];
  const own = ownFilter(s);
  if (own) parts.push(own);
  const taken = earlier.map((e): Filter => {
    const has: Filter = { exists: `circle.${e.circle}` };
    const f = ownFilter(e);
    return f ? { and: [has, f] } : has;
  });
  if (taken.length > 0) parts.push({ not: taken.length === 1 ? taken[0] : { or: taken } });
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : { and: parts };
}

// ---- the app ----------------------------------------------------------------------------------

const counts = { total: 0, kinds: new Map<string, number>(), circles: new Map<string, number>() };

/** Every message shown as received: the page does not deduplicate, the filters do. */
function show(m: Message<DashEvent>, via: string): void {
  const e = m.data;
  const li = document.createElement('li');
  Object.assign(li.dataset, { id: e.event_id, kind: e.type, via, offset: String(m.offset) });
  li.innerHTML = '<span class="kind"></span><span class="title"></span><span class="where"></span><span class="time"></span>';
  li.querySelector('.kind')!.textContent = e.type;
  li.querySelector('.title')!.textContent = e.data.title ?? '';
  li.querySelector('.where')!.textContent = `${e.circles.map(titleOf).join(' + ')}${e.project ? ` / ${e.project}` : ''}`;
  li.querySelector('.time')!.textContent = new Date(e.timestamp).toLocaleTimeString();
  $('events').prepend(li);
  counts.total += 1;
  counts.kinds.set(e.type, (counts.kinds.get(e.type) ?? 0) + 1);
  counts.circles.set(via, (counts.circles.get(via) ?? 0) + 1);
  renderCounts();
}

const titleOf = (id: string) => circles.find((c) => c.id === id)?.title ?? id;

function renderCounts(): void {
  $('count-total').textContent = String(counts.total);
  const chips = (m: Map<string, number>, label: (k: string) => string) => [...m].sort().map(([k, n]) => {
    const li = document.createElement('li');
    li.dataset.key = k;
    li.textContent = `${label(k)}: ${n}`;
    return li;
  });
  $('count-kinds').replaceChildren(...chips(counts.kinds, (k) => k));
  $('count-circles').replaceChildren(...chips(counts.circles, (k) => `via ${titleOf(k)}`));
}

function clearView(): void {
  counts.total = 0;
  counts.kinds.clear();
  counts.circles.clear();
  renderCounts();
  $('events').replaceChildren();
  $('errors').replaceChildren();
  document.querySelectorAll<HTMLElement>('#circles > li').forEach((li) => delete li.dataset.state);
}

function renderCircles(): void {
  $('circles').replaceChildren(...circles.map((c) => {
    const li = document.createElement('li');
    Object.assign(li.dataset, { circle: c.id, member: String(c.member) });
    li.innerHTML = `<label><input type="checkbox" class="circle"${c.member ? ' checked' : ''}> <span></span></label><ul></ul>`;
    li.querySelector('span')!.textContent = c.title;
    if (!c.member) li.querySelector('label')!.insertAdjacentHTML('beforeend', ' <span class="tag">not a member</span>');
    li.querySelector('ul')!.replaceChildren(...c.projects.map((p) => {
      const pli = document.createElement('li');
      pli.innerHTML = '<label><input type="checkbox" class="project"> <span></span></label>';
      (pli.querySelector('input') as HTMLInputElement).dataset.project = p;
      pli.querySelector('span')!.textContent = p;
      return pli;
    }));
    return li;
  }));
}

function selected(): Selection[] {
  return [...document.querySelectorAll<HTMLElement>('#circles > li')]
    .filter((li) => (li.querySelector('input.circle') as HTMLInputElement).checked)
    .map((li) => ({
      circle: li.dataset.circle!,
      projects: [...li.querySelectorAll<HTMLInputElement>('input.project:checked')].map((i) => i.dataset.project!),
    }));
}

function markCircle(circle: string, state: string): void {
  const li = document.querySelector<HTMLElement>(`#circles > li[data-circle="${circle}"]`);
  if (li) li.dataset.state = state;
}

function showError(e: unknown, circle?: string): void {
  const li = document.createElement('li');
  li.textContent = e instanceof SwitchboardError ? `${e.code}: ${e.message}` : String(e);
  if (e instanceof SwitchboardError) li.dataset.code = e.code;
  if (circle) li.dataset.circle = circle;
  $('errors').append(li);
}

// One change of view at a time: a second click waits for the first to be in place.
let changing = Promise.resolve();
$('watch').addEventListener('click', () => { changing = changing.then(() => watch(selected())); });
$('ping').addEventListener('click', async () => {
  $('rtt').textContent = `pong in ${await sb.ping()} ms`;
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
  await loggedIn();
});

$('logout').addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST' });
  location.reload();
});

async function loggedIn(): Promise<boolean> {
  const res = await fetch('/api/me');
  if (!res.ok) return false;
  const who = await res.json();
  circles = who.circles;
  $('me').textContent = who.name;
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('ping').hidden = false;
  renderCircles();
  start();
  return true;
}

if (!(await loggedIn())) $('login').hidden = false;
