// The dashboard: server figures polled each second (GET /api/stats) with a plot, the channels
// with subscribers, the members and last messages of a watched channel, and a publish form.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { $, ApiError, el, formatData, formatTime, HttpApi, loadApiKey, saveApiKey, wsUrl } from '../common/api';
import type { Stats, StoredMessage } from '../common/api';
import { LiveChannel } from './live';

const POLL_MS = 1000;
const PLOT_POINTS = 300;  // five minutes at one sample a second
const MESSAGES_SHOWN = 20;

let apiKey = loadApiKey();
const api = new HttpApi(() => apiKey);

// ---- API key ---------------------------------------------------------------------------------

const keyInput = $('api-key') as HTMLInputElement;
const keyHint = $('api-key-hint');
keyInput.value = apiKey;

function setHint(auth: string, text: string): void {
  if (keyHint.dataset.auth === auth && keyHint.textContent === text) return;
  keyHint.dataset.auth = auth;
  keyHint.textContent = text;
}

api.onAuth = (ok, usedKey) => {
  if (ok && !usedKey) setHint('optional', 'Optional here: this server answers without a key (loopback, no key configured).');
  else if (ok) setHint('accepted', 'Key accepted. Kept in this tab only (sessionStorage).');
  else if (usedKey) setHint('rejected', 'The server refused this key (401).');
  else setHint('required', 'Required: the server answered 401. Enter an API key.');
};

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  apiKey = keyInput.value.trim();
  saveApiKey(apiKey);
  refreshAll();
});
$('api-key-clear').addEventListener('click', () => {
  keyInput.value = '';
  apiKey = '';
  saveApiKey('');
  refreshAll();
});

// ---- figures and plot ------------------------------------------------------------------------

const plotBox = $('plot');
const series: [number[], (number | null)[], (number | null)[], number[]] = [[], [], [], []];
let redraws = 0;
const plot = new uPlot(
  {
    width: Math.max(300, plotBox.clientWidth),
    height: 240,
    scales: { x: { time: true, range: (_u, min, max) => [Math.min(min, max - 60), max] }, rate: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] }, conn: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] } },
    series: [
      {},
      { label: 'in/s', scale: 'rate', stroke: '#2563eb', width: 2, spanGaps: true },
      { label: 'out/s', scale: 'rate', stroke: '#16a34a', width: 2, spanGaps: true },
      { label: 'connections', scale: 'conn', stroke: '#d97706', width: 2, dash: [6, 4] },
    ],
    axes: [{}, { scale: 'rate', label: 'messages/s' }, { scale: 'conn', side: 1, label: 'connections', grid: { show: false } }],
    hooks: {
      draw: [
        () => {
          plotBox.dataset.redraws = String(++redraws);
        },
      ],
    },
  },
  series as uPlot.AlignedData,
  plotBox,
);
new ResizeObserver(() => plot.setSize({ width: Math.max(300, plotBox.clientWidth), height: 240 })).observe(plotBox);

let previous: { stats: Stats; at: number } | null = null;

function setText(id: string, text: string): void {
  const e = $(id);
  if (e.textContent !== text) e.textContent = text;
}

function formatUptime(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

function onStats(stats: Stats): void {
  const now = Date.now();
  setText('stat-connections', String(stats.connections));
  setText('stat-channels', String(stats.channels));
  setText('stat-subscriptions', String(stats.subscriptions));
  setText('stat-messages-in', String(stats.messages_in));
  setText('stat-messages-out', String(stats.messages_out));
  setText('stat-uptime', formatUptime(stats.uptime_seconds));
  setText('stat-slow', stats.slow_consumers ? `${stats.slow_consumers} slow consumers cut` : '');
  let inRate: number | null = null;
  let outRate: number | null = null;
  // Counters that went down mean the server restarted: start the rates over.
  if (previous && stats.messages_in >= previous.stats.messages_in && stats.messages_out >= previous.stats.messages_out) {
    const dt = Math.max(0.001, (now - previous.at) / 1000);
    inRate = (stats.messages_in - previous.stats.messages_in) / dt;
    outRate = (stats.messages_out - previous.stats.messages_out) / dt;
    setText('stat-rate-in', `${inRate.toFixed(1)}/s`);
    setText('stat-rate-out', `${outRate.toFixed(1)}/s`);
  }
  previous = { stats, at: now };
  series[0].push(now / 1000);
  series[1].push(inRate);
  series[2].push(outRate);
  series[3].push(stats.connections);
  if (series[0].length > PLOT_POINTS) for (const s of series) s.shift();
  plotBox.dataset.points = String(series[0].length);
  plot.setData(series as uPlot.AlignedData);
}

const serverStatus = $('server-status');
function setServer(state: 'up' | 'down' | 'auth', text: string): void {
  serverStatus.dataset.state = state;
  serverStatus.textContent = text;
}

async function pollStats(): Promise<void> {
  try {
    onStats(await api.stats());
    setServer('up', 'server up');
  } catch (e) {
    const err = e as ApiError;
    if (err.status === 401) setServer('auth', 'API key needed');
    else setServer('down', err.status === 0 ? 'server unreachable' : `error ${err.status}`);
  }
}

// ---- channels --------------------------------------------------------------------------------

const channelsBody = $('channels-body');
let watched = '';

async function pollChannels(): Promise<void> {
  let list;
  try {
    list = await api.channels();
  } catch {
    return;  // shown by the stats poll
  }
  setText('channels-count', `(${list.length})`);
  // Rows are kept and updated in place, so that a row does not vanish under the pointer.
  const existing = new Map<string, HTMLTableRowElement>();
  for (const row of channelsBody.querySelectorAll<HTMLTableRowElement>('tr[data-channel]'))
    existing.set(row.dataset.channel!, row);
  const rows = list.map((c) => {
    let row = existing.get(c.channel);
    if (!row) {
      row = el('tr', { 'data-channel': c.channel },
        el('td', {}, el('code', { text: c.channel })),
        el('td', { class: 'num' }));
    }
    row.classList.toggle('selected', c.channel === watched);
    const count = row.querySelector('td.num')!;
    if (count.textContent !== String(c.subscribers)) count.textContent = String(c.subscribers);
    return row;
  });
  if (rows.length === 0) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: '2', text: 'no channel has subscribers' })));
  const current = [...channelsBody.children];
  if (current.length !== rows.length || current.some((row, i) => row !== rows[i])) channelsBody.replaceChildren(...rows);
}

channelsBody.addEventListener('click', (e) => {
  const row = (e.target as HTMLElement).closest('tr[data-channel]') as HTMLElement | null;
  if (row?.dataset.channel) watch(row.dataset.channel);
});
$('watch-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const channel = ($('watch-channel') as HTMLInputElement).value.trim();
  if (channel) watch(channel);
});

// ---- the watched channel: members and last messages --------------------------------------------

const presenceList = $('presence');
const messagesList = $('messages');
const liveStatus = $('live-status');
// By offset, in the current epoch of the watched channel.
let messages = new Map<number, StoredMessage>();
let epoch = '';
let presenceOff = false;

function renderMessages(fresh?: number): void {
  const newest = [...messages.values()].sort((a, b) => b.offset - a.offset).slice(0, MESSAGES_SHOWN);
  // Keep the map small too.
  if (messages.size > MESSAGES_SHOWN * 2) messages = new Map(newest.map((m) => [m.offset, m]));
  const items = newest.map((m) =>
    el('li', { 'data-offset': String(m.offset), class: m.offset === fresh ? 'fresh' : '' },
      el('span', { class: 'off', text: `#${m.offset}` }),
      el('span', { class: 'ts', text: formatTime(m.ts) }),
      el('span', { class: 'data', text: formatData(m.data) })),
  );
  if (items.length === 0) items.push(el('li', { class: 'empty', text: 'no messages yet' }));
  messagesList.replaceChildren(...items);
}

async function loadHistory(channel: string): Promise<void> {
  try {
    const page = await api.history(channel, { reverse: true, limit: MESSAGES_SHOWN });
    if (channel !== watched) return;
    if (epoch && page.epoch !== epoch) return;  // the live side saw another epoch; it wins
    epoch = page.epoch;
    for (const m of page.messages) messages.set(m.offset, m);
    renderMessages();
  } catch (e) {
    if (channel === watched) messagesList.replaceChildren(el('li', { class: 'empty', text: `history: ${(e as Error).message}` }));
  }
}

async function loadPresence(channel: string): Promise<void> {
  if (presenceOff) return;
  try {
    const members = await api.presence(channel);
    if (channel !== watched) return;
    const items = members.map((m) => el('li', { 'data-client': m.client, title: m.client, text: m.user || `(anonymous ${m.client.slice(0, 6)})` }));
    if (items.length === 0) items.push(el('li', { class: 'empty', text: 'nobody' }));
    presenceList.replaceChildren(...items);
  } catch (e) {
    if (channel !== watched) return;
    const err = e as ApiError;
    if (err.code === 'PERMISSION_DENIED') {
      presenceOff = true;
      presenceList.replaceChildren(el('li', { class: 'empty', text: `presence is off in namespace ${namespaceOf(channel)}` }));
    } else {
      presenceList.replaceChildren(el('li', { class: 'empty', text: `presence: ${err.message}` }));
    }
  }
}

function namespaceOf(channel: string): string {
  const i = channel.indexOf(':');
  return i > 0 ? channel.slice(0, i) : 'default';
}

const live = new LiveChannel(wsUrl(), {
  subscribed(channel, _offset, newEpoch) {
    if (channel !== watched) return;
    if (epoch && newEpoch !== epoch) messages.clear();  // the channel started over
    epoch = newEpoch;
    liveStatus.dataset.state = 'open';
    liveStatus.textContent = 'live';
    void loadHistory(channel);  // after (re)subscribing: fills what came before or while away
    void loadPresence(channel);
  },
  message(m) {
    if (m.channel !== watched) return;
    messages.set(m.offset, { offset: m.offset, ts: m.ts, data: m.data });
    renderMessages(m.offset);
  },
  presence(channel) {
    if (channel === watched) void loadPresence(channel);
  },
  state(state) {
    // 'open' shows as live once the subscription is confirmed (above).
    if (state === 'open') return;
    liveStatus.dataset.state = watched ? state : 'idle';
    liveStatus.textContent = watched ? (state === 'closed' ? 'reconnecting' : state) : 'idle';
  },
});

function watch(channel: string): void {
  if (channel === watched) return;
  watched = channel;
  messages = new Map();
  epoch = '';
  presenceOff = false;
  setText('watched-channel', channel);
  ($('publish-channel') as HTMLInputElement).value = channel;
  ($('watch-channel') as HTMLInputElement).value = channel;
  messagesList.replaceChildren(el('li', { class: 'empty', text: 'loading…' }));
  presenceList.replaceChildren(el('li', { class: 'empty', text: 'loading…' }));
  for (const row of channelsBody.querySelectorAll('tr[data-channel]'))
    row.classList.toggle('selected', (row as HTMLElement).dataset.channel === channel);
  liveStatus.dataset.state = 'connecting';
  liveStatus.textContent = 'subscribing';
  live.watch(channel);
  // Channels without history still show messages from now on; the history request tells us
  // whether the channel exists at all.
  void loadHistory(channel);
  void loadPresence(channel);
}

// ---- publish ---------------------------------------------------------------------------------

$('publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('publish-result');
  const channel = ($('publish-channel') as HTMLInputElement).value.trim();
  const raw = ($('publish-data') as HTMLTextAreaElement).value;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    data = raw;
  }
  out.className = '';
  out.textContent = 'publishing…';
  try {
    const r = await api.publish(channel, data);
    out.textContent = `published at offset ${r.offset}`;
  } catch (err) {
    out.className = 'error';
    out.textContent = `${(err as ApiError).code}: ${(err as Error).message}`;
  }
});

// ---- polling ---------------------------------------------------------------------------------

function refreshAll(): void {
  void pollStats();
  void pollChannels();
  if (watched) void loadPresence(watched);
}

// Presence also refreshes on join/leave; this catches namespaces without join_leave.
let presenceTick = 0;

// One poll at a time, each second: a slow server is not piled up on.
async function loop(): Promise<void> {
  const started = Date.now();
  await Promise.allSettled([pollStats(), pollChannels()]);
  if (watched && ++presenceTick % 3 === 0) await loadPresence(watched);
  setTimeout(loop, Math.max(0, POLL_MS - (Date.now() - started)));
}
void loop();

const initial = new URLSearchParams(location.search).get('channel');
if (initial) watch(initial);
