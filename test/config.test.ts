import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEVELOPMENT_ENCRYPTION_SECRET, loadConfig } from '../src/config.js';

const strongSecret = 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('starts in development with safe defaults and freezes the result', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      host: '127.0.0.1',
      port: 4000,
      graphqlPath: '/graphql',
      databaseUrl: 'sqlite:./data/gateway.sqlite',
      signingAlgorithm: 'EdDSA',
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
  ])('names %s when it is %s', (variable, value) => {
    expect(configError({ [variable]: value }).variable).toBe(variable);
  });

  it('refuses a session lifetime shorter than the refresh token lifetime', () => {
    expect(configError({ REFRESH_TOKEN_TTL_SECONDS: '7200', SESSION_MAX_LIFETIME_SECONDS: '3600' }).variable).toBe('SESSION_MAX_LIFETIME_SECONDS');
  });

  it('makes the real entry point exit with the variable named when production has no secret', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', DATABASE_URL: 'sqlite::memory:' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('GATEWAY_ENCRYPTION_SECRET');
    expect(result.stdout).not.toContain('listening');
  });
});
