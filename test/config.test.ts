import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_ENCRYPTION_SECRET, loadConfig } from '../src/config.js';
import { configError } from './helpers/config-error.js';

const strongSecret = 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki';

describe('configuration', () => {
  it('starts in development with safe defaults and freezes the result', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      host: '127.0.0.1',
      port: 4000,
      graphqlPath: '/graphql',
      databaseUrl: 'sqlite:./data/gateway.sqlite',
      // The listening address's host name, so that a page opened from the printed URL keeps the cookies.
      issuer: 'http://127.0.0.1:4000',
      signingAlgorithm: 'ES256',
      signingKeys: { rotationDays: 90, publishAheadHours: 24, refreshIntervalMs: 60_000 },
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 604800,
      sessionMaxLifetimeSeconds: 2592000,
      refreshReuseGraceSeconds: 10,
      refreshTokenRotation: true,
      argon2: { memoryKiB: 19456, iterations: 2, parallelism: 1 },
      cookieSecure: false,
      introspection: true,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.argon2)).toBe(true);
  });

  it.each([
    [{}, 'GATEWAY_ENCRYPTION_SECRET'],
    [{ GATEWAY_ENCRYPTION_SECRET: DEVELOPMENT_ENCRYPTION_SECRET }, 'GATEWAY_ENCRYPTION_SECRET'],
    [{ GATEWAY_ENCRYPTION_SECRET: 'too-short-secret' }, 'GATEWAY_ENCRYPTION_SECRET'],
  ])('refuses production with %o', (env, variable) => {
    const error = configError({ NODE_ENV: 'production', ...env });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  it.each([
    [{ PORT: '8080' }, 'http://127.0.0.1:8080'],
    [{ HOST: 'localhost' }, 'http://localhost:4000'],
    [{ HOST: '0.0.0.0' }, 'http://127.0.0.1:4000'],
    [{ HOST: '::' }, 'http://[::1]:4000'],
    [{ HOST: '::1' }, 'http://[::1]:4000'],
    [{ PORT: '0' }, 'http://127.0.0.1:4000'],
  ])('derives the default issuer from the listening address: %o', (env, issuer) => {
    expect(loadConfig(env).issuer).toBe(issuer);
  });

  it('accepts production with a strong secret and turns on secure defaults', () => {
    const config = loadConfig({ NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: strongSecret });
    expect(config.cookieSecure).toBe(true);
    expect(config.introspection).toBe(false);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['ACCESS_TOKEN_TTL_SECONDS', '-5'],
    ['REFRESH_TOKEN_ROTATION', 'maybe'],
    ['JWT_ALGORITHM', 'HS256'],
    ['JWT_ISSUER', 'not a url'],
    ['GRAPHQL_PATH', 'graphql'],
    ['ARGON2_MEMORY_KIB', '1024'],
    ['REFRESH_REUSE_GRACE_SECONDS', '100000'],
    ['LOG_LEVEL', 'loud'],
    ['SQLITE_SYNCHRONOUS', 'OFF'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['SIGNING_KEY_ROTATION_DAYS', '0'],
    ['SIGNING_KEY_PUBLISH_AHEAD_HOURS', '0'],
    ['SIGNING_KEY_REFRESH_INTERVAL_MS', '999'],
    ['SIGNING_KEY_REFRESH_INTERVAL_MS', '600001'],
  ])('names %s when it is %s', (variable, value) => {
    expect(configError({ [variable]: value }).variable).toBe(variable);
  });

  it('refuses a publish-ahead time that is not shorter than the rotation period', () => {
    expect(configError({ SIGNING_KEY_ROTATION_DAYS: '1', SIGNING_KEY_PUBLISH_AHEAD_HOURS: '24' }).variable).toBe('SIGNING_KEY_PUBLISH_AHEAD_HOURS');
    expect(loadConfig({ SIGNING_KEY_ROTATION_DAYS: '2', SIGNING_KEY_PUBLISH_AHEAD_HOURS: '24' }).signingKeys).toMatchObject({
      rotationDays: 2,
      publishAheadHours: 24,
    });
  });

  it('refuses a session lifetime shorter than the refresh token lifetime', () => {
    expect(configError({ REFRESH_TOKEN_TTL_SECONDS: '7200', SESSION_MAX_LIFETIME_SECONDS: '3600' }).variable).toBe('SESSION_MAX_LIFETIME_SECONDS');
  });

  it.each([
    ['no secret', {}],
    ['the development secret', { GATEWAY_ENCRYPTION_SECRET: DEVELOPMENT_ENCRYPTION_SECRET }],
    ['a 31-byte secret', { GATEWAY_ENCRYPTION_SECRET: 'x'.repeat(31) }],
  ])('makes the real entry point refuse production with %s, naming the variable', (_label, env) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', DATABASE_URL: 'sqlite::memory:', PORT: '0', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^configuration error: GATEWAY_ENCRYPTION_SECRET: /);
    // A clear message, not a crash.
    expect(result.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(result.stdout).not.toContain('listening');
  });

  it.each(['mysql://db/gateway', 'sqlite:', 'gateway.sqlite', 'postgres://db:port/x'])('names DATABASE_URL when it is %s', (value) => {
    expect(configError({ DATABASE_URL: value }).variable).toBe('DATABASE_URL');
  });

  it('accepts SQLite files, SQLite in memory and PostgreSQL URLs', () => {
    for (const url of ['sqlite:./data/x.sqlite', 'sqlite::memory:', 'postgres://u@h:5432/db', 'postgresql://u:p@h/db?sslmode=require']) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('documents every variable it reads in the README configuration table', () => {
    const read = new Set<string>();
    const env = new Proxy({} as Record<string, string | undefined>, {
      get: (_target, name) => {
        if (typeof name === 'string') read.add(name);
        return undefined;
      },
    });
    loadConfig(env);
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
    const documented = new Set([...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]!));
    expect(read.size).toBeGreaterThan(20);
    expect([...read].filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !read.has(name))).toEqual([]);
  });
});
