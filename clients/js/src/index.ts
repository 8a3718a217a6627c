export {
  Switchboard,
  CloseCodes,
  type ConnectionState,
  type SwitchboardOptions,
  type ReconnectOptions,
  type HeartbeatOptions,
  type ClientEvents,
  type StateEvent,
  type ConnectedEvent,
  type DisconnectedEvent,
} from './client.js';
export {
  Subscription,
  type SubscriptionState,
  type SubscriptionEvents,
  type SubscribeOptions,
  type SubscribedEvent,
  type ResetEvent,
  type GapEvent,
} from './subscription.js';
export { SwitchboardError, type ErrorCode, type ServerErrorCode, type ClientErrorCode } from './errors.js';
export { Emitter, type Unsubscribe } from './emitter.js';
export { TypingHandle, type TypingOptions, type Typer, type TypingEvents } from './helpers/typing.js';
export { PresenceTracker, type PresenceEvents } from './helpers/presence.js';
export { StreamTracker, type StreamState, type StreamTrackerOptions, type StreamEvents } from './helpers/stream.js';
export type * from './types.js';
