import type { Logger } from 'pino';
import type { MailTransport, OutgoingMail } from './mail-transport.js';

/** Mails being sent at once; beyond it new ones are dropped (and logged), not queued without bound. */
export const DEFAULT_MAX_MAILS_IN_FLIGHT = 100;

export interface MailOutboxOptions {
  readonly transport: MailTransport;
  readonly logger: Logger;
  /** How long one send may take before it is given up (MAIL_SEND_TIMEOUT_MS). */
  readonly timeoutMs: number;
  /** DEFAULT_MAX_MAILS_IN_FLIGHT */
  readonly maxInFlight?: number;
}

/** Why a send was given up. */
class SendTimedOut extends Error {
  override name = 'SendTimedOut';
  readonly code = 'ETIMEDOUT';
}

/**
 * Sends mail in the background. A request posts a mail and answers without waiting: a slow or
 * failing SMTP server must neither delay the answer nor change it, or the answer's time would
 * tell whether the address belongs to an account (only then is a mail sent). Each send is
 * bounded by a timeout; a failure is logged with the kind of mail and the error's codes only,
 * never the address or the message (a server's rejection often quotes the address).
 */
export class MailOutbox {
  readonly #transport: MailTransport;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor({ transport, logger, timeoutMs, maxInFlight = DEFAULT_MAX_MAILS_IN_FLIGHT }: MailOutboxOptions) {
    this.#transport = transport;
    this.#logger = logger.child({ component: 'mail' });
    this.#timeoutMs = timeoutMs;
    this.#maxInFlight = maxInFlight;
  }

  /** Sends a mail in the background; returns at once and never throws. `kind` names it in logs. */
  post(mail: OutgoingMail, kind: string): void {
    if (this.#closed) return;
    if (this.#inFlight.size >= this.#maxInFlight) {
      this.#logger.warn({ kind, inFlight: this.#inFlight.size }, 'mail dropped: too many sends in flight');
      return;
    }
    const sending = this.#send(mail, kind);
    this.#inFlight.add(sending);
    void sending.finally(() => this.#inFlight.delete(sending));
  }

  /** Resolves once every mail posted so far was sent or given up. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  /** Stops taking mail, waits for the sends in flight (each within its timeout), and closes the transport. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
    this.#transport.close();
  }

  async #send(mail: OutgoingMail, kind: string): Promise<void> {
    // After the current turn: nothing of the send, not even its synchronous start, runs in the
    // request that posted it.
    await new Promise((resolve) => setImmediate(resolve));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SendTimedOut()), this.#timeoutMs);
    });
    try {
      await Promise.race([this.#transport.send(mail), timedOut]);
    } catch (error) {
      this.#logger.warn({ kind, err: safeError(error) }, 'mail not sent');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What of a send's error may be logged: its name and codes, never its message. */
function safeError(error: unknown): Record<string, unknown> {
  if (typeof error !== 'object' || error === null) return { type: typeof error };
  const { name, code, responseCode, command } = error as { name?: unknown; code?: unknown; responseCode?: unknown; command?: unknown };
  return { name, code, responseCode, command };
}
