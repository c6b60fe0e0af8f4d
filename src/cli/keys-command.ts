import type { ScheduledSigningKey } from '../auth/signing-key-schedule.js';
import { SigningKeyError, type SigningKeyStore } from '../auth/signing-key-store.js';

export const KEYS_USAGE = 'usage: npm run keys -- list | rotate | revoke <kid>';

/** Exit statuses: 0 done, 1 refused (nothing changed), 2 not understood. */
export type KeysExitStatus = 0 | 1 | 2;

export interface KeysCommandOptions {
  readonly store: SigningKeyStore;
  /** Tells the running instances at once (the Redis channel); they read the database within the revocation bound anyway. */
  readonly announceRevocation?: (kid: string) => Promise<void>;
  /** REVOCATION_POLL_INTERVAL_MS, for the message that says how soon a revocation holds everywhere. */
  readonly revocationPollIntervalMs: number;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/**
 * `npm run keys`: lists the signing keys, or makes one transition, and prints what changed: kid,
 * algorithm, state and dates, never key material. A command it does not understand, or a
 * transition the store refuses, changes nothing and ends with a non-zero status.
 */
export async function runKeysCommand(args: readonly string[], options: KeysCommandOptions): Promise<KeysExitStatus> {
  const { store, out, err } = options;
  const [command, ...rest] = args;
  const expectArguments = (count: number): boolean => {
    if (rest.length === count) return true;
    err(count === 0 ? `error: ${command} takes no arguments` : `error: ${command} needs exactly ${count} argument (the kid)`);
    err(KEYS_USAGE);
    return false;
  };
  try {
    switch (command) {
      case 'list': {
        if (!expectArguments(0)) return 2;
        const keys = await store.list();
        if (keys.length === 0) out('no signing keys yet: the gateway creates the first one when it starts (or run rotate)');
        else printTable(keys, out);
        return 0;
      }
      case 'rotate': {
        if (!expectArguments(0)) return 2;
        const rotation = await store.rotate('MANUAL');
        const { current, previous, created, withdrawn } = rotation;
        out(
          `rotated: ${current.kid} (${current.algorithm}) signs from ${iso(current.activatesAt)}, ${created ? 'a new key' : 'the published next key, brought forward'}`,
        );
        if (previous) out(`retired: ${previous.kid} (${previous.algorithm}) stays published and accepted until ${iso(previous.removedAt)}`);
        for (const key of withdrawn) out(`withdrawn: ${key.kid} (${key.algorithm}) will not sign`);
        out('running instances sign with the new key within SIGNING_KEY_REFRESH_INTERVAL_MS; tokens of the old one stay valid');
        printTable(rotation.keys, out);
        return 0;
      }
      case 'revoke': {
        if (!expectArguments(1)) return 2;
        const kid = rest[0]!;
        const revocation = await store.revoke(kid);
        const { revoked, replacement } = revocation;
        out(`revoked: ${revoked.kid} (${revoked.algorithm}) at ${iso(revoked.revokedAt)}: no longer published, its tokens refused`);
        if (replacement) out(`rotated: ${replacement.kid} (${replacement.algorithm}) signs in its place from ${iso(replacement.activatesAt)}`);
        await announce(options, kid);
        out(`every running instance refuses it within REVOCATION_POLL_INTERVAL_MS (${options.revocationPollIntervalMs} ms), at once with Redis`);
        printTable(revocation.keys, out);
        return 0;
      }
      default:
        err(command === undefined ? 'error: no command given' : `error: unknown command ${JSON.stringify(command)}`);
        err(KEYS_USAGE);
        return 2;
    }
  } catch (error) {
    if (!(error instanceof SigningKeyError)) throw error;
    err(`error: ${error.message} (${error.code}); nothing was changed`);
    return 1;
  }
}

async function announce({ announceRevocation, err }: KeysCommandOptions, kid: string): Promise<void> {
  if (!announceRevocation) return;
  try {
    await announceRevocation(kid);
  } catch (error) {
    // The revocation stands in the database; the instances read it at their next catch-up.
    err(`warning: the broadcast failed (${error instanceof Error ? error.message : String(error)}); instances learn of it from the database`);
  }
}

function printTable(keys: readonly ScheduledSigningKey[], out: (line: string) => void): void {
  const rows = [
    ['KID', 'ALG', 'STATE', 'ACTIVATES', 'RETIRES', 'REMOVED'],
    ...keys.map((key) => [key.kid, key.algorithm, key.state, iso(key.activatesAt), iso(key.retiresAt), iso(key.removedAt)]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows)
    out(
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    );
}

function iso(time: number | null): string {
  return time === null ? '-' : new Date(time).toISOString();
}
