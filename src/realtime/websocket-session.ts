import type { Caller } from '../auth/caller.js';
import type { LiveConnection } from './live-connections.js';

/** A WebSocket connection's state, authenticated once at connection_init. */
export interface WebSocketSession {
  readonly caller: Caller;
  readonly connection: LiveConnection;
  /** The upgrade request as a fetch Request. */
  readonly fetchRequest: Request;
}
