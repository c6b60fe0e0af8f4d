import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { storedUserAgent } from '../sessions/device-name.js';
import { attemptedUsername } from './attempted-username.js';
import { SECURITY_EVENT_OUTCOMES, type SecurityEvent, type SecurityEventInput, type SecurityEventRecorder } from './security-event.js';

/** The binding every security event's log line carries, besides its `event`: `"log":"security"`. */
export const SECURITY_LOG_BINDINGS = Object.freeze({ log: 'security' });

/** The message of every security event's log line. */
export const SECURITY_EVENT_MESSAGE = 'security event';

export interface SecurityEventLogOptions {
  /** The gateway's logger (its redaction included); the events go to a child of it. */
  readonly logger: Logger;
  /** The source of each event's `at`. */
  readonly clock: Clock;
}

/**
 * Writes security events as log lines of their own, at info, through a child logger bound to
 * `log: "security"`. Only the fields of SecurityEvent are written, whatever a call site passes,
 * so nothing else (a token, a password, a request body) can ride along.
 */
export class SecurityEventLog implements SecurityEventRecorder {
  readonly #logger: Logger;
  readonly #clock: Clock;

  constructor({ logger, clock }: SecurityEventLogOptions) {
    this.#logger = logger.child(SECURITY_LOG_BINDINGS);
    this.#clock = clock;
  }

  record(input: SecurityEventInput): void {
    if (!this.#logger.isLevelEnabled('info')) return;
    try {
      this.#logger.info(this.#eventOf(input), SECURITY_EVENT_MESSAGE);
    } catch {
      // A log destination that throws must not fail the sign-in or revocation it describes.
    }
  }

  #eventOf(input: SecurityEventInput): SecurityEvent {
    return {
      event: input.event,
      outcome: SECURITY_EVENT_OUTCOMES[input.event],
      at: this.#clock.now(),
      userId: input.userId ?? null,
      username: attemptedUsername(input.username),
      sessionId: input.sessionId ?? null,
      tokenId: input.tokenId ?? null,
      keyId: input.keyId ?? null,
      algorithm: input.algorithm ?? null,
      ip: input.client?.ip ?? null,
      userAgent: storedUserAgent(input.client?.userAgent ?? null),
      reason: input.reason ?? null,
    };
  }
}
