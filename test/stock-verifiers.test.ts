import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, connect, type Socket } from 'node:net';
import { createRemoteJwksSigningKeyProvider, extractFromHeader, type JWTExtendContextFields, useJWT } from '@graphql-yoga/plugin-jwt';
import { createSchema, createYoga } from 'graphql-yoga';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Algorithm } from 'jsonwebtoken';
import { test as base, describe, expect } from 'vitest';
import type { SigningAlgorithm } from '../src/config.js';
import { register, signIn } from './helpers/accounts.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

/** What a verifier reads from our discovery document; nothing else configures it. */
interface Discovery {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly id_token_signing_alg_values_supported: string[];
}

/** A gateway reachable at its issuer URL, as a deployment is, so that `jwks_uri` can be fetched. */
interface Issuer {
  readonly gateway: TestGateway;
  readonly discovery: Discovery;
  /** Starts a second instance on the same database and issuer, minting tokens for another audience. */
  otherAudience(): Promise<TestGateway>;
}

/** A stock graphql-yoga subgraph guarded by @graphql-yoga/plugin-jwt, unmodified. */
interface StockSubgraph {
  /** Asks `{ subject }` (the verified token's `sub`), with the token as a bearer credential when given. */
  ask(token?: string): Promise<{ status: number; subject: string | null | undefined }>;
  /** What the plugin logged at warn level and above (why it refused). */
  readonly warnings: string[];
}

const test = base.extend<{ algorithm: SigningAlgorithm; issuer: Issuer; stockSubgraph: (algorithms: Algorithm[]) => Promise<StockSubgraph> }>({
  // Named explicitly until ES256 is the gateway's default.
  algorithm: ['ES256', { injected: false }],
  issuer: async ({ algorithm }, use) => {
    const forwarder = await startForwarder();
    const env = { JWT_ISSUER: forwarder.origin, JWT_ALGORITHM: algorithm };
    const gateway = await startTestGateway({ env });
    forwarder.forwardTo(new URL(gateway.origin).port);
    const others: TestGateway[] = [];
    try {
      const discovery = (await (await fetch(new URL('/.well-known/openid-configuration', forwarder.origin))).json()) as Discovery;
      await use({
        gateway,
        discovery,
        async otherAudience() {
          const other = await startTestGateway({
            database: gateway.database,
            env: { ...env, JWT_AUDIENCE: 'another-api' },
            now: new Date(gateway.clock.now()),
          });
          others.push(other);
          return other;
        },
      });
    } finally {
      for (const other of others) await other.close({ keepDatabase: true });
      await gateway.close();
      await forwarder.close();
    }
  },
  // The README's recipe, with the algorithms the verifier accepts as the only variable.
  stockSubgraph: async ({ issuer: { gateway, discovery } }, use) => {
    const servers: Server[] = [];
    try {
      await use(async (algorithms) => {
        const warnings: string[] = [];
        const record = (...args: unknown[]) => warnings.push(args.map(String).join(' '));
        const yoga = createYoga({
          schema: createSchema<{ jwt?: JWTExtendContextFields }>({
            typeDefs: 'type Query { subject: String }',
            resolvers: { Query: { subject: (_root, _args, context) => context.jwt?.payload.sub } },
          }),
          plugins: [
            useJWT({
              signingKeyProviders: [createRemoteJwksSigningKeyProvider({ jwksUri: discovery.jwks_uri })],
              tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
              tokenVerification: { issuer: discovery.issuer, audience: gateway.config.audience, algorithms },
              reject: { missingToken: true, invalidToken: true },
            }),
          ],
          logging: { debug() {}, info() {}, warn: record, error: record },
        });
        const server = createHttpServer(yoga);
        servers.push(server);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
        return {
          warnings,
          async ask(token) {
            const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
            const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: '{ subject }' }) });
            const body = (await response.json()) as { data?: { subject: string | null } | null };
            return { status: response.status, subject: body.data?.subject };
          },
        };
      });
    } finally {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  },
});

/** The token with one character of its signature changed (one in the middle: the last may only carry padding bits). */
function withFlippedSignature(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const i = Math.floor(signature.length / 2);
  return `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
}

/** The token with its payload rewritten to another subject, the signature kept. */
function withOtherSubject(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  return `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${signature}`;
}

describe('@graphql-yoga/plugin-jwt, configured from our discovery document', () => {
  test('accepts the access tokens of register and login, and its resolver sees their subject', async ({ issuer, stockSubgraph }) => {
    expect(issuer.discovery.id_token_signing_alg_values_supported).toEqual(['ES256']);
    const subgraph = await stockSubgraph(['ES256']);
    const registered = await register(issuer.gateway, 'alice');
    const loggedIn = await signIn(issuer.gateway, 'alice');
    for (const { accessToken } of [registered, loggedIn]) {
      expect(decodeProtectedHeader(accessToken).alg).toBe('ES256');
      expect(await subgraph.ask(accessToken)).toEqual({ status: 200, subject: registered.user.id });
    }
  });

  test('refuses a tampered token, a token for another audience and no token', async ({ issuer, stockSubgraph }) => {
    const subgraph = await stockSubgraph(['ES256']);
    const { accessToken } = await register(issuer.gateway, 'alice');
    const other = await register(await issuer.otherAudience(), 'bob');
    // Signed by the same key: only the audience tells it apart.
    expect(decodeProtectedHeader(other.accessToken).kid).toBe(decodeProtectedHeader(accessToken).kid);
    expect(await subgraph.ask(accessToken)).toEqual({ status: 200, subject: expect.any(String) });
    // With why jsonwebtoken refused, so that a refusal for another reason (a key it could not
    // fetch, say) does not pass for the one under test.
    const cases = [
      [withFlippedSignature(accessToken), 'invalid signature'],
      [withOtherSubject(accessToken), 'invalid signature'],
      [other.accessToken, 'jwt audience invalid'],
      [undefined, undefined],
    ] as const;
    for (const [token, reason] of cases) {
      subgraph.warnings.length = 0;
      expect(await subgraph.ask(token)).toEqual({ status: 401, subject: undefined });
      if (reason) expect(subgraph.warnings.join('\n')).toContain(reason);
      else expect(subgraph.warnings).toEqual([]);
    }
  });

  describe('with an EdDSA gateway', () => {
    test.override({ algorithm: 'EdDSA' });

    test('refuses every token, even when told to accept EdDSA: jsonwebtoken has no EdDSA', async ({ issuer, stockSubgraph }) => {
      expect(issuer.discovery.id_token_signing_alg_values_supported).toEqual(['EdDSA']);
      const { accessToken } = await register(issuer.gateway, 'alice');
      const cases = [
        [['ES256'], 'invalid algorithm'],
        // Not even in jsonwebtoken's list of algorithms: it gets as far as the key, and gives up.
        [['EdDSA' as Algorithm], 'Unknown key type "ed25519"'],
      ] as const;
      for (const [algorithms, reason] of cases) {
        const subgraph = await stockSubgraph([...algorithms]);
        expect(await subgraph.ask(accessToken)).toEqual({ status: 401, subject: undefined });
        expect(subgraph.warnings.join('\n')).toContain(reason);
      }
    });
  });
});

describe.each(['ES256', 'EdDSA'] as const)("jose's createRemoteJWKSet and jwtVerify, with an %s gateway", (algorithm) => {
  test.override({ algorithm });

  test('accept its access tokens and refuse tampered ones or another audience', async ({ issuer: { gateway, discovery, otherAudience } }) => {
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    const options = { issuer: discovery.issuer, audience: gateway.config.audience, typ: 'at+jwt' };
    const { accessToken, user } = await register(gateway, 'alice');
    expect(decodeProtectedHeader(accessToken).alg).toBe(algorithm);
    const { payload } = await jwtVerify(accessToken, jwks, options);
    expect(payload.sub).toBe(user.id);

    for (const tampered of [withFlippedSignature(accessToken), withOtherSubject(accessToken)]) {
      await expect(jwtVerify(tampered, jwks, options)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    }
    const other = await register(await otherAudience(), 'bob');
    await expect(jwtVerify(other.accessToken, jwks, options)).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
  });
});

/**
 * A loopback port forwarding to one set after it listens: the gateway's issuer URL, from which
 * verifiers fetch the keys, must name a port before the gateway has one of its own.
 */
async function startForwarder(): Promise<{ origin: string; forwardTo(port: string): void; close(): Promise<void> }> {
  let target: number | undefined;
  const sockets = new Set<Socket>();
  const track = (socket: Socket, peer: () => Socket | undefined) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      peer()?.destroy();
    });
  };
  const server = createTcpServer((client) => {
    if (target === undefined) return void client.destroy();
    const upstream = connect(target, '127.0.0.1');
    track(client, () => upstream);
    track(upstream, () => client);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwardTo(port) {
      target = Number(port);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
