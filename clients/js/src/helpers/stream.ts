import { Emitter, type Unsubscribe } from '../emitter.js';
import type { SwitchboardError } from '../errors.js';
import type { Switchboard } from '../client.js';
import type { Subscription } from '../subscription.js';
import type { Message, StreamDeltaEvent, StreamEndEvent, StreamStartEvent } from '../types.js';

/** One stream (an AI answer, a long output) as assembled so far. */
export interface StreamState {
  id: string;
  channel: string;
  meta?: Record<string, unknown>;
  /** The text received so far (the whole text once done). */
  text: string;
  /** Sequence number of the last delta applied. */
  seq: number;
  done: boolean;
  /**
   * Why it ended: the backend's reason ("done" by default), "cancelled" (a client cancelled),
   * "timeout" (no append for the server's idle timeout), or "interrupted" (the client lost the
   * stream across a reconnect and never learnt how it ended).
   */
  reason?: string;
}

export interface StreamTrackerOptions {
  onStart?: (stream: StreamState) => void;
  /** `delta` is only the new text; `stream.text` is the whole text so far. */
  onDelta?: (delta: string, stream: StreamState) => void;
  onEnd?: (stream: StreamState) => void;
  /** Finished streams kept in `streams` (default 50, oldest dropped first). */
  keepFinished?: number;
  /**
   * After a reconnect, how long (ms) to wait for the server to announce the streams still running
   * before ending the others as "interrupted" (default 1500).
   */
  resyncGrace?: number;
}

export interface StreamEvents {
  start: StreamState;
  delta: { delta: string; stream: StreamState };
  end: StreamState;
  error: SwitchboardError;
}

interface Tracked extends StreamState {
  /** A stream_start came again (resubscribe): the next delta is the whole text so far. */
  resync?: boolean;
  /** Waiting to be announced again after a reconnect. */
  unconfirmed?: boolean;
}

function isStreamResult(data: unknown): data is { stream: string; text: string; reason: string } {
  if (!data || typeof data !== 'object') return false;
  const d = data as Record<string, unknown>;
  return typeof d.stream === 'string' && typeof d.text === 'string' && typeof d.reason === 'string';
}

/**
 * Assembles the streams of a channel. The server sends `stream_start`, `stream_delta {seq}` and
 * `stream_end {reason}`; someone who (re)subscribes mid-stream gets `stream_start` and the text so
 * far as one delta, which this helper turns back into just the missing part, so `onDelta` never
 * repeats text. When a stream ends the server also publishes the whole text as an ordinary
 * message `{stream, text, reason, meta?}`: the helper uses it to finish a stream whose end it
 * missed (recovered after a reconnect in a namespace with history).
 *
 * ```ts
 * const answers = sb.stream('ai:conv-42', { onDelta: (d, s) => render(s.id, s.text) });
 * stopButton.onclick = () => answers.cancel();
 * ```
 */
export class StreamTracker extends Emitter<StreamEvents> {
  readonly channel: string;
  private readonly sub: Subscription;
  private readonly map = new Map<string, Tracked>();
  private readonly offs: Unsubscribe[] = [];
  private readonly options: StreamTrackerOptions;
  private resyncTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(
    private readonly client: Switchboard,
    channel: string,
    options: StreamTrackerOptions = {},
  ) {
    super();
    this.channel = channel;
    this.options = options;
    this.sub = client.subscribe(channel);
    this.offs.push(
      this.sub.on('stream_start', (e) => this.onStart(e)),
      this.sub.on('stream_delta', (e) => this.onDelta(e)),
      this.sub.on('stream_end', (e) => this.onEnd(e)),
      this.sub.on('message', (m) => this.onMessage(m)),
      this.sub.on('subscribed', (e) => {
        if (e.resubscribed) this.resync();
      }),
    );
  }

  /** Known streams, running and recently finished, oldest first. */
  get streams(): StreamState[] {
    return [...this.map.values()].map((s) => this.view(s));
  }

  /** The most recently started stream that is still running, if any. */
  get current(): StreamState | undefined {
    const running = [...this.map.values()].filter((s) => !s.done);
    const last = running[running.length - 1];
    return last ? this.view(last) : undefined;
  }

  get(id: string): StreamState | undefined {
    const s = this.map.get(id);
    return s ? this.view(s) : undefined;
  }

  /**
   * Asks the server to stop a stream (default: the current one). The stream then ends with reason
   * "cancelled", and the backend is told by the server's cancel webhook.
   */
  async cancel(id?: string): Promise<void> {
    const target = id ?? this.current?.id;
    if (!target) return;
    await this.client.cancelStream(target);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.resyncTimer);
    this.offs.forEach((off) => off());
    this.sub.unsubscribe();
  }

  private view(s: Tracked): StreamState {
    const v: StreamState = { id: s.id, channel: s.channel, text: s.text, seq: s.seq, done: s.done };
    if (s.meta) v.meta = s.meta;
    if (s.reason !== undefined) v.reason = s.reason;
    return v;
  }

  private create(id: string, meta?: Record<string, unknown>): Tracked {
    const s: Tracked = { id, channel: this.channel, text: '', seq: 0, done: false };
    if (meta) s.meta = meta;
    this.map.set(id, s);
    this.prune();
    const v = this.view(s);
    this.options.onStart?.(v);
    this.emit('start', v);
    return s;
  }

  private onStart(e: StreamStartEvent): void {
    const known = this.map.get(e.stream);
    if (known && !known.done) {
      // Announced again after a resubscribe: the text so far follows as one delta.
      known.resync = true;
      known.unconfirmed = false;
      return;
    }
    if (known) return;
    this.create(e.stream, e.meta);
  }

  private onDelta(e: StreamDeltaEvent): void {
    const s = this.map.get(e.stream) ?? this.create(e.stream);
    if (s.done) return;
    let delta: string;
    if (s.resync) {
      s.resync = false;
      // The whole text up to e.seq; what we have is a prefix of it.
      delta = e.delta.startsWith(s.text) ? e.delta.slice(s.text.length) : e.delta;
      s.text = e.delta;
    } else {
      if (e.seq <= s.seq) return; // already applied
      delta = e.delta;
      s.text += e.delta;
    }
    s.seq = e.seq;
    if (delta.length === 0) return;
    const v = this.view(s);
    this.options.onDelta?.(delta, v);
    this.emit('delta', { delta, stream: v });
  }

  private onEnd(e: StreamEndEvent): void {
    const s = this.map.get(e.stream) ?? this.create(e.stream);
    this.finish(s, e.reason);
  }

  /** The finished text published into the channel: ends a stream whose stream_end we missed. */
  private onMessage(m: Message): void {
    if (!isStreamResult(m.data)) return;
    const s = this.map.get(m.data.stream);
    if (!s || s.done) return;
    if (m.data.text.length > s.text.length && m.data.text.startsWith(s.text)) {
      const delta = m.data.text.slice(s.text.length);
      s.text = m.data.text;
      const v = this.view(s);
      this.options.onDelta?.(delta, v);
      this.emit('delta', { delta, stream: v });
    } else {
      s.text = m.data.text;
    }
    this.finish(s, m.data.reason);
  }

  private finish(s: Tracked, reason: string): void {
    if (s.done) return;
    s.done = true;
    s.reason = reason;
    s.resync = false;
    s.unconfirmed = false;
    const v = this.view(s);
    this.options.onEnd?.(v);
    this.emit('end', v);
    this.prune();
  }

  /** After a resubscribe: streams not announced again within the grace period are over. */
  private resync(): void {
    for (const s of this.map.values()) if (!s.done) s.unconfirmed = true;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => {
      for (const s of [...this.map.values()]) if (!s.done && s.unconfirmed) this.finish(s, 'interrupted');
    }, this.options.resyncGrace ?? 1500);
  }

  private prune(): void {
    const keep = this.options.keepFinished ?? 50;
    const finished = [...this.map.values()].filter((s) => s.done);
    for (let i = 0; i < finished.length - keep; i++) this.map.delete(finished[i]!.id);
  }
}
