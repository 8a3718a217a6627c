/** Wire types of the native protocol v1 (docs/protocol.md) and the public data shapes. */

/** A channel position: the offset of the last message, in an epoch (compare epochs first). */
export interface Position {
  offset: number;
  epoch: string;
}

/**
 * Who caused a frame (docs/protocol.md#publisher-identity): stamped by the server from the
 * sending connection (a client can not forge it), or given by the backend.
 */
export interface Sender {
  /** The token's `sub`, or what an anonymous connection declared ('' if none). */
  user: string;
  /** The sending connection's client id ('' when the backend named no connection). */
  client: string;
  /** The token's `info` claim, or an anonymous connection's `info`. */
  info?: Record<string, unknown>;
  /** false: an anonymous connection, whose user is only what it declared. Absent: checked by a token, or given by the backend. */
  verified?: false;
}

/** A publication's tags (docs/filters.md): at most 32, keys 1 to 64 bytes, values at most 256. */
export type Tags = Record<string, string>;

/**
 * A subscription's filter over the messages' tags (docs/filters.md), evaluated by the server:
 * `{ eq: ['circle', '12'] }`, `{ in: ['project', ['7', '9']] }`, `{ exists: 'urgent' }`,
 * `{ and: [...] }`, `{ or: [...] }`, `{ not: {...} }`, and `neq` / `nin`.
 */
export type Filter =
  | { eq: [string, string] }
  | { neq: [string, string] }
  | { in: [string, string[]] }
  | { nin: [string, string[]] }
  | { exists: string }
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter };

/** A message of a channel, live or recovered. */
export interface Message<T = unknown> {
  channel: string;
  data: T;
  offset: number;
  /** Server wall-clock time of the publication, ms since the Unix epoch. */
  ts: number;
  /** The epoch `offset` belongs to. */
  epoch: string;
  /** Who published it; absent for a backend publish that named no one. */
  from?: Sender;
  /** Its tags; absent when it has none. */
  tags?: Tags;
}

export interface HistoryMessage<T = unknown> {
  offset: number;
  ts: number;
  data: T;
  /** Who published it, as on the live message. */
  from?: Sender;
  /** Its tags, as on the live message. */
  tags?: Tags;
}

export interface HistoryOptions {
  /** Only messages with an offset above it. */
  since?: number;
  /** Only messages with an offset below it (0: no bound). */
  before?: number;
  /** 1 to 1000 (server default 100). */
  limit?: number;
  /** true: the newest first. */
  reverse?: boolean;
  /**
   * Only messages whose tags match (without it, the subscription's filter applies when
   * subscribed). `limit` counts the messages read: a page may hold fewer, even none, with `next`.
   */
  filter?: Filter;
}

export interface PublishOptions {
  /** Tags subscribers' filters look at (docs/filters.md). */
  tags?: Tags;
}

export interface HistoryPage<T = unknown> {
  channel: string;
  messages: HistoryMessage<T>[];
  /** The channel's last offset given out. */
  offset: number;
  epoch: string;
  /** The oldest offset still retained (0 when none). */
  firstOffset: number;
  /**
   * Present when more messages match than this page holds (the server cuts pages at `limit` and
   * at a byte budget): pass it as `since` (oldest first) or `before` (`reverse: true`) to read
   * the next page.
   */
  next?: number;
}

export interface PublishResult {
  channel: string;
  offset: number;
  epoch: string;
}

/** A member of a channel with presence. */
export interface Member {
  client: string;
  user: string;
  info?: Record<string, unknown>;
}

export interface PresenceStats {
  channel: string;
  clients: number;
  users: number;
}

export interface JoinLeaveEvent extends Member {
  channel: string;
}

export interface TypingEvent {
  channel: string;
  client: string;
  user: string;
  typing: boolean;
  /** The typing connection's identity (`client` and `user` repeat two of its fields). */
  from?: Sender;
}

/** An event relayed by the server (`event` frame), from a client or the backend: never stored, no offset. */
export interface ChannelEvent<T = unknown> {
  channel: string;
  event: string;
  data?: T;
  /** The sending connection ('' for the backend's events). */
  client: string;
  user: string;
  /** Who sent it; a backend's event has one only when the backend gave it. */
  from?: Sender;
}

export interface StreamStartEvent {
  channel: string;
  stream: string;
  meta?: Record<string, unknown>;
}

export interface StreamDeltaEvent {
  channel: string;
  stream: string;
  seq: number;
  delta: string;
}

export interface StreamEndEvent {
  channel: string;
  stream: string;
  seq: number;
  /** "done" (or the backend's reason), "cancelled", "timeout". */
  reason: string;
}

/**
 * The message a finished stream leaves in its channel: the server publishes the whole text as an
 * ordinary message when the stream ends (stored if the namespace keeps history).
 */
export interface StreamResultData {
  stream: string;
  text: string;
  reason: string;
  meta?: Record<string, unknown>;
}

/** Minimal surface of a WebSocket used by the client: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Any server frame, as parsed JSON. */
export interface ServerFrame {
  type: string;
  id?: string | number;
  channel?: string;
  [key: string]: unknown;
}
