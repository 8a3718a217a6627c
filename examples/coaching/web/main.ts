// The coaching page: a conversation with the (fake) AI coach, open in any number of tabs. The
// real-time part is the SDK's: one WebSocket, the conversation's channel with its history, the
// streamed answers (StreamTracker), Stop (stream_cancel), reconnection with backoff, recovery of
// what was missed, and the offline queue for questions asked while disconnected.
import { Switchboard, SwitchboardError } from 'switchboard-client';
import type { StreamState } from 'switchboard-client';
import './style.css';

interface Question { role: 'user'; user: string; content: string }
interface Answer { stream: string; text: string; reason: string; meta?: Record<string, unknown> }
type ChatData = Question | Answer;

const params = new URLSearchParams(location.search);
const conversation = params.get('c') ?? 'my-goals';
const user = params.get('user') ?? 'me';
const channel = `ai:${conversation}`;
const $ = (id: string) => document.getElementById(id)!;
$('conversation').textContent = `conversation “${conversation}” as ${user}`;

// ---- real-time part -------------------------------------------------------------------------

const { ws } = await (await fetch('/api/config')).json();
const sb = new Switchboard(ws, { user, reconnect: { minDelay: 500, maxDelay: 5000 } });
const room = sb.subscribe<ChatData>(channel);
const answers = sb.stream(channel, {
  onStart: (s) => liveBubble(s),
  onDelta: (_delta, s) => liveBubble(s),
  onEnd: (s) => liveBubble(s),
});

let connects = 0;
sb.on('connected', () => { $('status').dataset.connects = String(++connects); });
sb.on('state', () => showStatus());
sb.on('error', (e) => showError(e));
room.on('error', (e) => showError(e));
room.on('message', (m) => addMessage(m));
const loadHistory = () => room.history({ limit: 100, reverse: true }).then((p) => p.messages.forEach((m) => addMessage(m)), showError);
// The first time, the conversation so far; after a reconnect the SDK recovers what was missed.
room.on('subscribed', (e) => { if (!e.resubscribed) void loadHistory(); });
room.on('reset', () => {  // what was missed cannot be replayed: show the conversation again
  seen.clear();
  $('messages').querySelectorAll('li[data-offset]').forEach((li) => li.remove());
  void loadHistory();
});

$('stop').addEventListener('click', () => void answers.cancel().catch(showError));

/** Publishes the question (queued while offline, sent on reconnect), then asks the backend. */
async function ask(content: string): Promise<void> {
  const pending = bubble('user queued', `${user}: ${content}`);
  $('messages').append(pending);
  showStatus();
  try {
    const { offset } = await sb.publish<Question>(channel, { role: 'user', user, content });
    pending.remove();
    await askBackend(content, offset);
  } catch (e) {
    pending.remove();
    showError(e);
  } finally {
    showStatus();
  }
}

// ---- the app ----------------------------------------------------------------------------------

async function askBackend(content: string, replyTo: number): Promise<void> {
  const res = await fetch('/api/ai/chat', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ conversationId: conversation, content, replyTo }),
  });
  if (res.ok) return;
  const { error } = await res.json();
  showError(new SwitchboardError(error.code, error.message, error.retryable), () => askBackend(content, replyTo));
}

function showStatus(): void {
  const status = $('status');
  const queued = sb.queueSize;
  status.dataset.state = sb.state;
  status.dataset.queued = String(queued);
  status.textContent = sb.state === 'connected' ? 'Live'
    : sb.state === 'closed' ? 'Offline'
    : connects === 0 ? 'Connecting…' : `Reconnecting…${queued ? ` (${queued} queued)` : ''}`;
}

function showError(e: unknown, retry?: () => Promise<void>): void {
  const err = e instanceof SwitchboardError ? e : new SwitchboardError('SERVER_ERROR', String((e as Error)?.message ?? e), false);
  $('error').hidden = false;
  $('error').dataset.code = err.code;
  $('error-text').textContent = `${err.code}: ${err.message}`;
  const button = $('retry');
  button.hidden = !(err.retryable && retry);
  button.onclick = () => { $('error').hidden = true; void retry?.(); };
}

function bubble(cls: string, text: string): HTMLLIElement {
  const li = document.createElement('li');
  li.className = cls;
  li.textContent = text;
  return li;
}

const REASONS: Record<string, string> = { cancelled: '[stopped]', timeout: '[the coach went quiet]', interrupted: '[interrupted by a reconnection]' };

function setReason(li: HTMLElement, reason: string): void {
  li.dataset.reason = reason;
  if (REASONS[reason]) li.append(Object.assign(document.createElement('span'), { className: 'reason', textContent: REASONS[reason] }));
}

/** A running answer, below the messages, until its finished text arrives as a message. */
function liveBubble(s: StreamState): void {
  let li = document.querySelector<HTMLLIElement>(`#live li[data-stream="${s.id}"]`);
  if (!li) {
    if (document.querySelector(`#messages li[data-stream="${s.id}"]`)) return;
    li = bubble('assistant streaming', '');
    li.dataset.stream = s.id;
    $('live').append(li);
  }
  li.textContent = `coach: ${s.text}`;
  li.classList.toggle('streaming', !s.done);
  if (s.done) setReason(li, s.reason ?? 'done');
  ($('stop') as HTMLButtonElement).hidden = !answers.current;
}

const seen = new Set<number>();
function addMessage(m: { offset: number; data: ChatData }): void {
  if (seen.has(m.offset)) return;  // history and live can overlap around the first subscribe
  seen.add(m.offset);
  const d = m.data;
  const li = 'stream' in d ? bubble('assistant', `coach: ${d.text}`) : bubble('user', `${d.user}: ${d.content}`);
  li.dataset.offset = String(m.offset);
  if ('stream' in d) {
    li.dataset.stream = d.stream;
    setReason(li, d.reason);
    document.querySelector(`#live li[data-stream="${d.stream}"]`)?.remove();
  }
  const later = [...$('messages').querySelectorAll<HTMLLIElement>('li[data-offset]')].find((x) => Number(x.dataset.offset) > m.offset);
  $('messages').insertBefore(li, later ?? $('messages').querySelector('li.queued'));
  ($('stop') as HTMLButtonElement).hidden = !answers.current;
}

$('ask-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('question') as HTMLInputElement;
  const content = input.value.trim();
  if (!content) return;
  input.value = '';
  $('error').hidden = true;
  void ask(content);
});
showStatus();
