/**
 * Angular / RxJS bindings for switchboard-client, and seed 004 (Rust/Angular CRUD broadcasting
 * CassetteCreated / CassetteDeleted / CassetteUpdated) rewritten on top of them.
 *
 * It replaces the hand-written `WebSocketService` (webSocket() + retryWhen + a reconnect timer
 * + an unbounded backoff counter) and its "Live" / "Reconnecting..." badge logic. The backend
 * (axum) no longer keeps a broadcast channel and a /ws handler: after each change it calls
 * `POST /api/publish {"channel": "cassettes:all", "data": <event>}` on Switchboard.
 *
 * Everything here is type-checked by `npm test` in clients/examples.
 */
import { DestroyRef, Injectable, inject } from '@angular/core';
import { BehaviorSubject, Observable, defer, filter, map, scan, share, startWith } from 'rxjs';
import {
  Switchboard,
  type ConnectionState,
  type Member,
  type Message,
  type PublishResult,
  type ResetEvent,
  type StreamState,
  type SwitchboardOptions,
  type Typer,
} from 'switchboard-client';

// ---------------------------------------------------------------------------------------------
// Generic bindings: each helper of the SDK as a cold Observable. Subscribing to the Observable
// subscribes to the channel; unsubscribing (async pipe, takeUntilDestroyed) releases it.
// ---------------------------------------------------------------------------------------------

/** The connection state as an Observable (replays the current state first). */
export function connectionState$(client: Switchboard): Observable<ConnectionState> {
  return new Observable<ConnectionState>((observer) => {
    observer.next(client.state);
    return client.on('state', (e) => observer.next(e.state));
  });
}

export type ChannelNotification<T> =
  | { kind: 'message'; message: Message<T> }
  /** Messages were missed and cannot be replayed: reload the state (e.g. from your REST API). */
  | { kind: 'reset'; reset: ResetEvent };

/**
 * The messages of a channel (live and, after a reconnect, the recovered ones, in order, once),
 * plus `reset` notifications. Errors of the subscription (unknown channel, ...) end the stream.
 */
export function channel$<T>(client: Switchboard, channel: string): Observable<ChannelNotification<T>> {
  return new Observable<ChannelNotification<T>>((observer) => {
    const sub = client.subscribe<T>(channel);
    const offs = [
      sub.on('message', (message) => observer.next({ kind: 'message', message })),
      sub.on('reset', (reset) => observer.next({ kind: 'reset', reset })),
      sub.on('error', (err) => {
        if (!err.retryable) observer.error(err);
      }),
    ];
    return () => {
      offs.forEach((off) => off());
      sub.unsubscribe();
    };
  });
}

/** Just the payloads of a channel's messages. */
export function messages$<T>(client: Switchboard, channel: string): Observable<T> {
  return channel$<T>(client, channel).pipe(
    filter((n): n is { kind: 'message'; message: Message<T> } => n.kind === 'message'),
    map((n) => n.message.data),
  );
}

/** The live member list of a channel with presence. */
export function presence$(client: Switchboard, channel: string): Observable<Member[]> {
  return new Observable<Member[]>((observer) => {
    const tracker = client.presenceTracker(channel);
    const off = tracker.on('change', (members) => observer.next(members));
    if (tracker.synced) observer.next(tracker.members);
    return () => {
      off();
      tracker.dispose();
    };
  });
}

/** Who else is typing in a channel. */
export function typers$(client: Switchboard, channel: string): Observable<Typer[]> {
  return new Observable<Typer[]>((observer) => {
    const handle = client.typing(channel);
    observer.next(handle.typers);
    const off = handle.on('change', (typers) => observer.next(typers));
    return () => {
      off();
      handle.dispose();
    };
  });
}

/** The streams of a channel, each emission the stream that changed (text so far, done, reason). */
export function streams$(client: Switchboard, channel: string): Observable<StreamState> {
  return new Observable<StreamState>((observer) => {
    const tracker = client.stream(channel);
    const offs = [
      tracker.on('start', (s) => observer.next(s)),
      tracker.on('delta', (e) => observer.next(e.stream)),
      tracker.on('end', (s) => observer.next(s)),
    ];
    return () => {
      offs.forEach((off) => off());
      tracker.dispose();
    };
  });
}

// ---------------------------------------------------------------------------------------------
// An injectable service holding the one connection of the app.
// ---------------------------------------------------------------------------------------------

/** Provide it with the app's settings, e.g. `{ provide: SwitchboardSettings, useValue: { url: environment.wsUrl } }`. */
export abstract class SwitchboardSettings {
  abstract url: string;
  abstract options?: SwitchboardOptions;
}

@Injectable({ providedIn: 'root' })
export class SwitchboardService {
  private readonly settings = inject(SwitchboardSettings);
  readonly client = new Switchboard(this.settings.url, this.settings.options ?? {});

  /** "Live" when connected, "Reconnecting..." otherwise: `state$ | async` in the template. */
  readonly state$ = connectionState$(this.client).pipe(share({ resetOnRefCountZero: false }));
  readonly live$ = this.state$.pipe(map((s) => s === 'connected'));

  constructor() {
    inject(DestroyRef).onDestroy(() => this.client.close());
  }

  channel<T>(channel: string): Observable<ChannelNotification<T>> {
    return channel$<T>(this.client, channel);
  }

  messages<T>(channel: string): Observable<T> {
    return messages$<T>(this.client, channel);
  }

  presence(channel: string): Observable<Member[]> {
    return presence$(this.client, channel);
  }

  typers(channel: string): Observable<Typer[]> {
    return typers$(this.client, channel);
  }

  streams(channel: string): Observable<StreamState> {
    return streams$(this.client, channel);
  }

  /** Queued while offline (bounded); rejects with a SwitchboardError {code, retryable}. */
  publish<T>(channel: string, data: T): Promise<PublishResult> {
    return this.client.publish(channel, data);
  }
}

// ---------------------------------------------------------------------------------------------
// Seed 004: the cassette list kept live.
// ---------------------------------------------------------------------------------------------

export interface Cassette {
  name: string;
  description?: string;
  recorded_at: string;
  interactions_count: number;
}

/** What the Rust backend publishes into `cassettes:all` (same JSON as before: serde tag "type"). */
export type CassetteEvent =
  | { type: 'CassetteCreated'; cassette: Cassette; timestamp: string }
  | { type: 'CassetteUpdated'; cassette: Cassette; timestamp: string }
  | { type: 'CassetteDeleted'; name: string; timestamp: string };

export const CASSETTES_CHANNEL = 'cassettes:all';

/** The REST call the app already has, used to (re)load the list. */
export abstract class CassetteApi {
  abstract list(): Promise<Cassette[]>;
}

type ListAction = { kind: 'load'; cassettes: Cassette[] } | { kind: 'event'; event: CassetteEvent };

function reduce(list: Cassette[], action: ListAction): Cassette[] {
  if (action.kind === 'load') return action.cassettes;
  const e = action.event;
  switch (e.type) {
    case 'CassetteCreated':
      return list.some((c) => c.name === e.cassette.name) ? list : [...list, e.cassette];
    case 'CassetteUpdated':
      return list.map((c) => (c.name === e.cassette.name ? e.cassette : c));
    case 'CassetteDeleted':
      return list.filter((c) => c.name !== e.name);
  }
}

@Injectable({ providedIn: 'root' })
export class LiveCassettes {
  private readonly sb = inject(SwitchboardService);
  private readonly api = inject(CassetteApi);
  /** Snackbar texts ("New cassette: x"), for a MatSnackBar subscriber. */
  readonly notifications$ = new BehaviorSubject<string | null>(null);

  /**
   * The list: loaded over REST, then kept up to date by the channel. Events missed during a
   * disconnection are replayed by the server on reconnect; if it cannot (`reset`), the list is
   * reloaded over REST.
   */
  readonly cassettes$: Observable<Cassette[]> = defer(() => {
    const actions = new Observable<ListAction>((observer) => {
      const load = () => this.api.list().then((cassettes) => observer.next({ kind: 'load', cassettes }), (e) => observer.error(e));
      // Subscribe first, then load: nothing published in between is lost (the event re-applies idempotently).
      const sub = this.sb.channel<CassetteEvent>(CASSETTES_CHANNEL).subscribe({
        next: (n) => {
          if (n.kind === 'reset') return void load();
          observer.next({ kind: 'event', event: n.message.data });
          this.notifications$.next(describe(n.message.data));
        },
        error: (e) => observer.error(e),
      });
      void load();
      return () => sub.unsubscribe();
    });
    return actions.pipe(scan(reduce, [] as Cassette[]), startWith([] as Cassette[]));
  }).pipe(share());
}

function describe(e: CassetteEvent): string {
  switch (e.type) {
    case 'CassetteCreated':
      return `New cassette: ${e.cassette.name}`;
    case 'CassetteUpdated':
      return `Cassette updated: ${e.cassette.name}`;
    case 'CassetteDeleted':
      return `Cassette deleted: ${e.name}`;
  }
}
