import { Redis } from 'ioredis';
import { pino } from 'pino';
import { systemClock } from '../clock.js';
import { loadConfigOrExit } from '../config.js';
import { connectDatabase } from '../db/connect.js';
import { createLogger } from '../logger.js';
import { RedisRevocationChannel } from '../revocation/redis-revocation-channel.js';
import { SecurityEventLog } from '../security-events/security-event-log.js';
import { signingKeyStore } from '../auth/signing-key-store.js';
import { runKeysCommand } from './keys-command.js';

// `npm run keys -- list | rotate | revoke <kid>`: the signing keys of DATABASE_URL, with the
// gateway's own environment. What changed goes to stdout; the security events to stderr, as
// log lines, like the gateway's.
const config = loadConfigOrExit();
const logger = createLogger(config.logLevel, pino.destination(2));
const handle = connectDatabase(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous });
let status: number;
try {
  status = await runKeysCommand(process.argv.slice(2), {
    store: signingKeyStore(config, handle.db, systemClock, new SecurityEventLog({ logger, clock: systemClock })),
    announceRevocation: config.redisUrl ? (kid) => publishRevocation(config.redisUrl!, `${config.redisKeyPrefix}revocations`, kid) : undefined,
    revocationPollIntervalMs: config.revocationPollIntervalMs,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  status = 1;
} finally {
  await handle.close();
}
process.exit(status);

/** One message on the instances' revocation channel, given up after the command timeout. */
async function publishRevocation(url: string, channel: string, kid: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: config.redisCommandTimeoutMs, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    const published = new RedisRevocationChannel({ commands: redis, subscriber: redis, channel, logger }).publishSigningKeyRevocation(kid);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('redis did not answer in time')), 2_000)));
    await Promise.race([published, timeout]).finally(() => clearTimeout(timer));
  } finally {
    redis.disconnect();
  }
}
