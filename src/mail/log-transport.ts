import type { Logger } from 'pino';
import type { MailTransport, OutgoingMail } from './mail-transport.js';

/** The message of the log line that stands for a mail. */
export const LOGGED_MAIL_MESSAGE = 'mail not sent (no SMTP_URL): logged instead';

/**
 * Development without SMTP_URL: each mail is written to the log at info, code included, so that
 * a newcomer can sign in with a code. Configuration refuses it in production (src/config.ts).
 */
export function logTransport(logger: Logger): MailTransport {
  return {
    async send(mail: OutgoingMail): Promise<void> {
      logger.info({ mail: { to: mail.to, subject: mail.subject, text: mail.text } }, LOGGED_MAIL_MESSAGE);
    },
    close() {},
  };
}
