import nodemailer from 'nodemailer';
import type { MailTransport, OutgoingMail } from './mail-transport.js';

export interface SmtpTransportOptions {
  /** SMTP_URL: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465 (TLS). */
  readonly url: string;
  /** MAIL_FROM: the From of every message. */
  readonly from: string;
  /** How long connecting, the greeting and each wait on the socket may take before the send fails. */
  readonly timeoutMs: number;
}

/**
 * Sends through an SMTP server with nodemailer, one connection per message: codes are few (a
 * couple an hour per address), and a server that went away costs no stale pooled connection.
 * Every wait is bounded by `timeoutMs`, so that a server that accepts the connection and then
 * stalls ends the attempt rather than holding it for nodemailer's default ten minutes.
 */
export function smtpTransport({ url, from, timeoutMs }: SmtpTransportOptions): MailTransport {
  const transporter = nodemailer.createTransport({
    url,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    // Nothing of a message (address, code) in nodemailer's own logging.
    logger: false,
    debug: false,
  });
  return {
    async send(mail: OutgoingMail): Promise<void> {
      await transporter.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transporter.close(),
  };
}
