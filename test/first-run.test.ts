import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEVELOPMENT_ENCRYPTION_SECRET, loadConfig } from '../src/config.js';
import { describeDatabase, formatBanner } from '../src/startup/banner.js';
import { checkPortAvailable, PortUnavailableError } from '../src/startup/port-available.js';
import { spawnGateway } from './helpers/gateway-process.js';

const STRONG_SECRET = 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-first-run-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A port something else is listening on, closed after the test. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

describe('the start-up banner', () => {
  it('says where the gateway answers, on which database, where GraphiQL and the account page are, and warns of the development secret', () => {
    const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}` });
    const banner = formatBanner({ config, port: 4000, accountPageBuilt: true });
    expect(banner).toContain('GraphQL       http://127.0.0.1:4000/graphql');
    expect(banner).toContain('GraphiQL      http://127.0.0.1:4000/graphql');
    expect(banner).toContain('Account page  http://127.0.0.1:4000/account');
    expect(banner).toContain(`Database      SQLite ${join(dir, 'gateway.sqlite')}`);
    expect(banner).toContain('Issuer        http://127.0.0.1:4000');
    expect(banner).toContain('same host name as the gateway (127.0.0.1)');
    expect(banner).toMatch(/Warning: GATEWAY_ENCRYPTION_SECRET is the development default/);
    expect(config.encryptionSecret).toBe(DEVELOPMENT_ENCRYPTION_SECRET);
  });

  it('has no warning with a real secret, no GraphiQL in production, and says how to build a missing account page', () => {
    const config = loadConfig({ NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: STRONG_SECRET, HOST: '0.0.0.0', JWT_ISSUER: 'https://auth.example' });
    const banner = formatBanner({ config, port: 8080, accountPageBuilt: false });
    expect(banner).not.toContain('Warning');
    expect(banner).toContain('GraphiQL      off in production');
    expect(banner).toContain('Account page  not built: run npm run build');
    // Every interface: the URL to open on this machine is the loopback address.
    expect(banner).toContain('GraphQL       http://127.0.0.1:8080/graphql');
    expect(banner).toContain('Issuer        https://auth.example');
  });

  it.each([
    ['postgres://gateway:s3cret-pass@db.internal:5432/auth?sslmode=require&password=other', 'PostgreSQL gateway@db.internal:5432/auth'],
    ['postgresql://db.internal/auth', 'PostgreSQL db.internal/auth'],
    ['sqlite::memory:', 'SQLite in memory (nothing is kept)'],
  ])('names the database %s without its credentials', (url, described) => {
    expect(describeDatabase(url)).toBe(described);
    expect(describeDatabase(url)).not.toMatch(/s3cret|other|sslmode/);
  });

  it('is printed on stderr before the JSON logs by the real entry point', async () => {
    const database = join(dir, 'gateway.sqlite');
    const gateway = await spawnGateway({ NODE_ENV: 'development', DATABASE_URL: `sqlite:${database}` }, 60_000);
    try {
      const output = gateway.output.join('');
      const banner = output.indexOf('GraphQL auth gateway (development) listening on 127.0.0.1:');
      expect(banner).toBeGreaterThanOrEqual(0);
      expect(banner).toBeLessThan(output.indexOf('"msg":"gateway listening"'));
      expect(output).toContain(`GraphQL       ${gateway.url}`);
      expect(output).toContain(`Database      SQLite ${database}`);
      expect(output).toContain('Warning: GATEWAY_ENCRYPTION_SECRET is the development default');
    } finally {
      await gateway.stop();
    }
  }, 90_000);
});

describe('a busy port', () => {
  it('is reported by checkPortAvailable with the port and the variable to change', async () => {
    const { port, server } = await occupiedPort();
    try {
      const error = await checkPortAvailable(port, '127.0.0.1').then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(PortUnavailableError);
      expect((error as PortUnavailableError).code).toBe('EADDRINUSE');
      expect((error as Error).message).toContain(`port ${port}`);
      expect((error as Error).message).toContain('PORT');
      // A free port (and port 0) pass.
      await expect(checkPortAvailable(0, '127.0.0.1')).resolves.toBeUndefined();
    } finally {
      server.close();
    }
  });

  it('stops the real entry point with one line, before the database is created', async () => {
    const { port, server } = await occupiedPort();
    const database = join(dir, 'data', 'gateway.sqlite');
    try {
      const failure = await spawnGateway({ PORT: String(port), DATABASE_URL: `sqlite:${database}` }, 60_000).then(
        async (gateway) => {
          await gateway.stop();
          throw new Error('the gateway started on a busy port');
        },
        (error: Error) => error.message,
      );
      expect(failure).toContain('exited with 1 before listening');
      const output = failure.slice(failure.indexOf('\n') + 1).trim();
      expect(output).toBe(`cannot start: port ${port} on 127.0.0.1 is already in use; set PORT to a free port (or stop the program using it)`);
      // Nothing touched the database: not even its folder was made.
      expect(existsSync(join(dir, 'data'))).toBe(false);
    } finally {
      server.close();
    }
  }, 90_000);
});
