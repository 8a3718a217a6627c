import { Emitter, type Unsubscribe } from '../emitter.js';
import type { SwitchboardError } from '../errors.js';
import type { Switchboard } from '../client.js';
import type { Subscription } from '../subscription.js';
import type { JoinLeaveEvent, Member } from '../types.js';

export interface PresenceEvents {
  /** The member list changed (it is given whole). */
  change: Member[];
  join: JoinLeaveEvent;
  leave: JoinLeaveEvent;
  error: SwitchboardError;
}

/**
 * A live member list of a channel whose namespace has `presence = true` (and `join_leave = true`
 * for live updates). It subscribes to the channel (a reference, released by `dispose()`), loads
 * the list with `presence` after every (re)subscribe, and applies `join`/`leave` events on top.
 * This client is a member too.
 */
export class PresenceTracker extends Emitter<PresenceEvents> {
  readonly channel: string;
  private readonly sub: Subscription;
  private readonly map = new Map<string, Member>();
  private readonly offs: Unsubscribe[] = [];
  /** join/leave events received while a `presence` request is out: applied after its reply. */
  private buffer: JoinLeaveEvent[] | null = null;
  private generation = 0;
  private _synced = false;
  private disposed = false;

  constructor(
    private readonly client: Switchboard,
    channel: string,
  ) {
    super();
    this.channel = channel;
    this.sub = client.subscribe(channel);
    this.offs.push(
      this.sub.on('subscribed', () => this.refresh()),
      this.sub.on('join', (e) => this.onEvent(e, 'join')),
      this.sub.on('leave', (e) => this.onEvent(e, 'leave')),
      client.on('disconnected', () => {
        this._synced = false;
        this.generation += 1;
        this.buffer = null;
      }),
    );
    if (this.sub.state === 'subscribed') this.refresh();
  }

  /** The members, in the order the server listed them then joined. */
  get members(): Member[] {
    return [...this.map.values()];
  }

  /** Distinct users among the members. */
  get users(): string[] {
    return [...new Set([...this.map.values()].map((m) => m.user))];
  }

  /** false while the list is being (re)loaded, after a disconnect for example. */
  get synced(): boolean {
    return this._synced;
  }

  /** Reloads the list from the server. */
  refresh(): void {
    if (this.disposed) return;
    const generation = ++this.generation;
    this.buffer = [];
    this.client.presence(this.channel).then(
      (list) => {
        if (generation !== this.generation || this.disposed) return;
        this.map.clear();
        for (const m of list) this.map.set(m.client, m);
        const buffered = this.buffer ?? [];
        this.buffer = null;
        for (const e of buffered) this.apply(e, (e as JoinLeaveEvent & { kind: 'join' | 'leave' }).kind, false);
        this._synced = true;
        this.emit('change', this.members);
      },
      (err: SwitchboardError) => {
        if (generation !== this.generation || this.disposed) return;
        this.buffer = null;
        if (err.code !== 'DISCONNECTED' && err.code !== 'CLOSED') this.emit('error', err);
      },
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.offs.forEach((off) => off());
    this.sub.unsubscribe();
  }

  private onEvent(e: JoinLeaveEvent, kind: 'join' | 'leave'): void {
    if (this.buffer) {
      this.buffer.push({ ...e, kind } as JoinLeaveEvent);
      return;
    }
    this.apply(e, kind, true);
  }

  private apply(e: JoinLeaveEvent, kind: 'join' | 'leave', notify: boolean): void {
    const member: Member = { client: e.client, user: e.user };
    if (e.info) member.info = e.info;
    if (kind === 'join') this.map.set(e.client, member);
    else this.map.delete(e.client);
    const event: JoinLeaveEvent = { channel: this.channel, ...member };
    this.emit(kind, event);
    if (notify) this.emit('change', this.members);
  }
}
