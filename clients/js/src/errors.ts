/**
 * Error codes. The first group comes from the server (docs/errors.md); the second is produced by
 * the client itself.
 */
export type ServerErrorCode =
  | 'INVALID_MESSAGE'
  | 'UNKNOWN_CHANNEL'
  | 'PERMISSION_DENIED'
  | 'MESSAGE_TOO_LARGE'
  | 'RATE_LIMIT'
  | 'AUTH_FAILED'
  | 'TIMEOUT'
  | 'SERVER_ERROR'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'LIMIT_EXCEEDED'
  /** The app's backend could not be asked (rpc, proxied subscribe/publish): retryable. */
  | 'BACKEND_UNAVAILABLE'
  /** The app's backend answered wrongly. (Its own codes, from its `error` answers, come as is.) */
  | 'BACKEND_ERROR'
  | 'INVALID_FILTER';

export type ClientErrorCode =
  /** No reply within `requestTimeout` (retryable). */
  | 'TIMEOUT'
  /** The connection was lost after the request was sent and before its reply (retryable; a
   * publish may or may not have been stored). */
  | 'DISCONNECTED'
  /** The client was closed (`close()`, server close code 4000, AUTH_FAILED): not retryable. */
  | 'CLOSED'
  /** The offline queue is full: the publish was not queued (retryable once reconnected). */
  | 'OFFLINE_QUEUE_FULL'
  /** The channel started a new epoch while paging through its history. */
  | 'EPOCH_CHANGED'
  /** No WebSocket implementation: pass `WebSocket` in the options or install `ws` under Node. */
  | 'NO_WEBSOCKET';

export type ErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

/** Every rejected promise of the SDK carries one of these. Match on `code`, not on `message`. */
export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** The request type that failed (`publish`, `history`, ...), when there was one. */
  readonly request?: string;
  /** The channel concerned, when there is one. */
  readonly channel?: string;
  /** For RATE_LIMIT: how long to wait before retrying, in ms (the server's `retry_after`). */
  readonly retryAfter?: number;

  constructor(
    code: ErrorCode,
    message: string,
    retryable: boolean,
    details: { request?: string; channel?: string; retryAfter?: number } = {},
  ) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.retryable = retryable;
    if (details.request !== undefined) this.request = details.request;
    if (details.channel !== undefined) this.channel = details.channel;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
  }
}

/** Codes that are retryable when the client itself produces them. */
export function clientError(
  code: ClientErrorCode,
  message: string,
  details: { request?: string; channel?: string } = {},
): SwitchboardError {
  const retryable = code === 'TIMEOUT' || code === 'DISCONNECTED' || code === 'OFFLINE_QUEUE_FULL';
  return new SwitchboardError(code, message, retryable, details);
}
