import type { Logger } from 'pino';
import type { MailConfig } from '../config.js';
import { logTransport } from './log-transport.js';
import { MailOutbox } from './mail-outbox.js';
import { smtpTransport } from './smtp-transport.js';

/**
 * The outbox the configuration asks for: through SMTP_URL, or into the log without it (which
 * configuration allows outside production only); undefined when email is off.
 */
export function createMailOutbox(config: MailConfig, logger: Logger): MailOutbox | undefined {
  if (!config.enabled) return undefined;
  const transport = config.smtpUrl
    ? smtpTransport({ url: config.smtpUrl, from: config.from, timeoutMs: config.sendTimeoutMs })
    : logTransport(logger.child({ component: 'mail' }));
  // The transport's own timeouts end a stalled connection; the outbox's bounds the whole send,
  // a server that trickles its answers included.
  return new MailOutbox({ transport, logger, timeoutMs: config.sendTimeoutMs });
}
