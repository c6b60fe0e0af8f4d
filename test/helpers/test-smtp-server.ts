import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A message the server accepted, parsed. */
export interface ReceivedMail {
  readonly to: string;
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  /** The 6-digit code in the text, if any. */
  readonly code: string | undefined;
}

/**
 * How the server treats mail: accept it; reject the recipient (550, a permanent failure); or stall,
 * never greeting a client that connects (a server that is up but hung).
 */
export type SmtpBehaviour = 'accept' | 'reject' | 'stall';

export interface TestSmtpServer {
  /** smtp://127.0.0.1:PORT, for SMTP_URL. */
  readonly url: string;
  /** Every mail accepted, in order. */
  readonly received: ReceivedMail[];
  /** How many connections were opened to it. */
  readonly connections: () => number;
  /** The next mail to `to` not yet taken: waits for it up to `timeoutMs`. */
  mailTo(to: string, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** A real SMTP server (the smtp-server package) on a loopback port the OS picks, without TLS or auth. */
export async function startSmtpServer(behaviour: SmtpBehaviour = 'accept'): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const waiters = new Set<() => void>();
  let connections = 0;
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // A stalled client connection must not hold close() up.
    closeTimeout: 50,
    onConnect(_session, callback) {
      connections++;
      // Never answering: nodemailer waits for a greeting that does not come.
      if (behaviour !== 'stall') callback();
    },
    onRcptTo(address, _session, callback) {
      // Quoting the address, as real servers do: an error logged whole would carry it.
      if (behaviour === 'reject') callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected`), { responseCode: 550 }));
      else callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const text = parsed.text ?? '';
          received.push({
            to: parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((a) => a.address).join(',') : '',
            from: parsed.from?.value.map((a) => a.address).join(',') ?? '',
            subject: parsed.subject ?? '',
            text,
            code: /\b(\d{6})\b/.exec(text)?.[1],
          });
          for (const wake of waiters) wake();
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    connections: () => connections,
    async mailTo(to, timeoutMs = 15_000) {
      // performance.now(): tests that fake Date (the rate limits' windows) still time out here.
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const mail = received.find((m) => m.to.toLowerCase() === to.toLowerCase() && !taken.has(m));
        if (mail) {
          taken.add(mail);
          return mail;
        }
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
