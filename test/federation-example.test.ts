import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { YogaServerInstance } from 'graphql-yoga';
import { describe, expect, onTestFinished } from 'vitest';
import { CreatePersonalAccessTokenDocument } from '../client/src/operations.js';
import type { GatewayTrust, IdentityContext } from '../examples/federation/gateway-identity.js';
import { listen } from '../examples/federation/listen.js';
import { createOrdersSubgraph } from '../examples/federation/orders-subgraph.js';
import { REGISTER_MUTATION, SPANNING_QUERY } from '../examples/federation/try-it.js';
import { createWhoamiSubgraph } from '../examples/federation/whoami-subgraph.js';
import { JWKS_PATH } from '../src/plugins/use-well-known.js';
import { register, test } from './helpers/fixtures.js';
import { createTestDatabase } from './helpers/test-database.js';
import type { TestGateway, TestGatewayOptions } from './helpers/test-gateway.js';
import { until } from './helpers/until.js';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** One of the example's subgraphs on a loopback port, counting the operations it receives. */
interface ExampleSubgraph {
  readonly entry: string;
  readonly url: string;
  /** Requests received other than the gateway's SDL reads. */
  readonly operations: () => number;
  /** From now on, verify identity tokens against this gateway. */
  trust(trust: GatewayTrust): void;
}

/**
 * The example's subgraph factory on port 0. The gateway's JWKS URL is known only once it listens
 * (on port 0 too), and it reads the subgraphs' SDL, which needs no token, while starting: until
 * trust() the subgraph is built with a trust that no token passes. Each request's body is read
 * first, to tell the SDL reads from the operations.
 */
async function startExampleSubgraph(
  name: string,
  create: (trust: GatewayTrust) => YogaServerInstance<Record<string, unknown>, IdentityContext>,
): Promise<ExampleSubgraph> {
  let yoga = create({ issuer: 'http://not-yet.invalid', jwksUri: 'http://not-yet.invalid/jwks.json', audience: name });
  let operations = 0;
  const listening = await listen(
    async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      if (!body.includes('_service')) operations++;
      const response = await yoga.fetch(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: req.method === 'GET' ? undefined : body,
      });
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    },
    0,
    '127.0.0.1',
  );
  onTestFinished(() => listening.close());
  return {
    entry: `${name}=${listening.url}`,
    url: listening.url,
    operations: () => operations,
    trust: (trust) => {
      yoga = create(trust);
    },
  };
}

interface ExampleFederation {
  readonly gateway: TestGateway;
  readonly orders: ExampleSubgraph;
  readonly whoami: ExampleSubgraph;
}

/** The example's two subgraphs and a gateway composing them, as start.ts wires them. */
async function startExample(startGateway: (options?: TestGatewayOptions) => Promise<TestGateway>): Promise<ExampleFederation> {
  const orders = await startExampleSubgraph('orders', createOrdersSubgraph);
  const whoami = await startExampleSubgraph('whoami', createWhoamiSubgraph);
  const gateway = await startGateway({ env: { SUBGRAPHS: `${orders.entry},${whoami.entry}` } });
  for (const [subgraph, audience] of [
    [orders, 'orders'],
    [whoami, 'whoami'],
  ] as const) {
    subgraph.trust({ issuer: gateway.config.issuer, jwksUri: new URL(JWKS_PATH, gateway.origin).href, audience });
  }
  return { gateway, orders, whoami };
}

// biome-ignore lint/suspicious/noExplicitAny: answers of several shapes, each read field by field by its test.
type Answer = { data?: any; errors?: any[] };

async function post(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return { status: response.status, body: (await response.json()) as Answer };
}

describe('the federation example (examples/federation)', () => {
  test("its query spans the gateway's User, the Pothos subgraph's orders and the plain subgraph's verified claims", async ({ startGateway }) => {
    const { gateway, orders, whoami } = await startExample(startGateway);
    const alice = await register(gateway, 'alice');
    const { body } = await post(gateway.url, SPANNING_QUERY, { authorization: `Bearer ${alice.accessToken}` });
    expect(body.errors).toBeUndefined();
    expect(body.data.me).toEqual({
      username: 'alice',
      orders: [
        { id: `${alice.user.id}-order-1`, item: 'Mechanical keyboard' },
        { id: `${alice.user.id}-order-2`, item: 'Coffee beans' },
      ],
    });
    expect(body.data.whoami).toEqual({ sub: alice.user.id, kind: 'session', scopes: expect.arrayContaining(['profile:read', 'orders:read']) });
    expect(orders.operations()).toBe(1);
    expect(whoami.operations()).toBe(1);
  });

  test('the edge authorization it declares: @requiresScopes and @authenticated are refused at the gateway, the subgraphs hear nothing', async ({
    startGateway,
  }) => {
    const { gateway, orders, whoami } = await startExample(startGateway);
    const alice = await register(gateway, 'alice');
    const tokenWith = async (scopes: string[]) =>
      (await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: scopes.join(','), scopes } })).data!.createPersonalAccessToken.token;
    const profileOnly = await tokenWith(['profile:read']);
    const refused = await post(gateway.url, '{ me { username orders { id } } }', { authorization: `Bearer ${profileOnly}` });
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScopes: ['orders:read'] });
    const anonymous = await post(gateway.url, '{ whoami { sub } }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    expect(orders.operations()).toBe(0);
    expect(whoami.operations()).toBe(0);

    const reader = await tokenWith(['profile:read', 'orders:read']);
    const allowed = await post(gateway.url, '{ me { orders { id } } whoami { kind scopes } }', { authorization: `Bearer ${reader}` });
    expect(allowed.body.errors).toBeUndefined();
    expect(allowed.body.data.me.orders).toHaveLength(2);
    expect(allowed.body.data.whoami).toEqual({ kind: 'pat', scopes: ['profile:read', 'orders:read'] });
  });

  test("its subgraphs accept only the gateway's identity tokens for them: not the client's access token, not none", async ({ startGateway }) => {
    const { gateway, whoami } = await startExample(startGateway);
    const alice = await register(gateway, 'alice');
    // Signed with the same keys, but for the gateway's audience: plugin-jwt refuses it before any resolver.
    const accessToken = await post(whoami.url, '{ whoami { sub } }', { authorization: `Bearer ${alice.accessToken}` });
    expect(accessToken.status).toBe(401);
    expect(accessToken.body.data ?? null).toBeNull();
    const none = await post(whoami.url, '{ whoami { sub } }');
    expect(none.body.errors?.[0]).toMatchObject({ message: 'identity token required', extensions: { code: 'UNAUTHENTICATED' } });
  });

  test('npm run example:federation starts, answers its printed query, and stops on Ctrl-C leaving nothing behind', async () => {
    const [gatewayPort, ordersPort, whoamiPort] = await freePorts(3);
    const database = process.env.TEST_DATABASE_URL ? await createTestDatabase() : undefined;
    const child = spawn('npm', ['run', '--silent', 'example:federation'], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(gatewayPort),
        ORDERS_PORT: String(ordersPort),
        WHOAMI_PORT: String(whoamiPort),
        ...(database ? { DATABASE_URL: database.url } : {}),
        ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL, REDIS_KEY_PREFIX: `test-${randomUUID()}:` } : {}),
      },
      // A process group of its own, which Ctrl-C signals as a whole (npm, tsx and node).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    onTestFinished(async () => {
      await stopGroup(child, () => output.includes('Federation example stopped.'));
      await database?.drop();
    });
    child.stdout!.on('data', (chunk) => (output += String(chunk)));
    child.stderr!.on('data', (chunk) => (output += String(chunk)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

    await until(() => output.includes('Federation example ready') || child.exitCode !== null, 'the ready line', 60_000);
    expect(output).toContain(`Federation example ready: gateway http://127.0.0.1:${gatewayPort}/graphql`);
    const url = `http://127.0.0.1:${gatewayPort}/graphql`;
    const registered = await post(url, REGISTER_MUTATION);
    const accessToken = registered.body.data.register.accessToken as string;
    const { body } = await post(url, SPANNING_QUERY, { authorization: `Bearer ${accessToken}` });
    expect(body.errors).toBeUndefined();
    expect(body.data.me).toMatchObject({ username: 'alice', orders: [{ item: 'Mechanical keyboard' }, { item: 'Coffee beans' }] });
    expect(body.data.whoami).toMatchObject({ kind: 'session' });

    const databaseFile = /database {2}(\S+gateway\.sqlite) \(removed on exit\)/.exec(output)?.[1];
    if (!database) expect(existsSync(databaseFile!)).toBe(true);
    process.kill(-child.pid!, 'SIGINT');
    // npm itself dies of the signal; the example's own process says when it has closed everything.
    await until(() => output.includes('Federation example stopped.'), 'the example to stop', 10_000);
    await exited;
    for (const port of [gatewayPort, ordersPort, whoamiPort]) expect(await isFree(port!)).toBe(true);
    if (!database) expect(existsSync(databaseFile!)).toBe(false);
    expect(output).not.toContain(accessToken);
  }, 90_000);
});

/** Ports that were free a moment ago (the OS picked them), for a process that cannot take port 0. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * After the test, whatever happened: Ctrl-C for the example's process group if it is still
 * running (so that it removes its database), then SIGKILL for whatever is left.
 */
async function stopGroup(child: ChildProcess, stopped: () => boolean): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // The group has exited already.
    }
  };
  if (!stopped()) {
    signal('SIGINT');
    await until(stopped, 'the example to stop', 10_000).catch(() => {});
  }
  signal('SIGKILL');
}
