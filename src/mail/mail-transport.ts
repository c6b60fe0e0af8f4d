/** One plain-text message to one recipient. */
export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Where mail goes: an SMTP server (smtp-transport.ts), or the log in development (log-transport.ts). */
export interface MailTransport {
  /** Hands one message over; rejects when it was not accepted. */
  send(mail: OutgoingMail): Promise<void>;
  /** Releases what the transport holds (connections); mails still being sent may fail. */
  close(): void;
}
