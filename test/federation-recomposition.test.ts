import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeServices, compositionHasErrors } from '@theguild/federation-composition';
import { execute, type GraphQLSchema, parse } from 'graphql';
import { onTestFinished } from 'vitest';
import { ConfigError, DEFAULT_SUBGRAPH_POLL_INTERVAL_MS, loadConfig } from '../src/config.js';
import { GATEWAY_SUBGRAPH_URL } from '../src/federation/compose-supergraph.js';
import { createFederatedGateway } from '../src/federation/federated-gateway.js';
import { configError } from './helpers/config-error.js';
import { describe, expect, PASSWORD, register, test } from './helpers/fixtures.js';
import { within } from './helpers/realtime-clients.js';
import { declaringSchema, identitySchema, ordersSchema, startSubgraph, type TestSubgraph } from './helpers/subgraphs.js';
import type { TestGateway } from './helpers/test-gateway.js';
import { until } from './helpers/until.js';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** Short, so that a test waits for a few polls at most. */
const POLL = { SUBGRAPH_POLL_INTERVAL_MS: '50' };

/** The SDL a subgraph schema declares to composition (`{ _service { sdl } }`). */
async function sdlOf(schema: GraphQLSchema): Promise<string> {
  const result = await execute({ schema, document: parse('{ _service { sdl } }') });
  return (result.data as { _service: { sdl: string } })._service.sdl;
}

/** The gateway's own subgraph SDL, as an operator gets it: `npm run schema -- --subgraph <file>` in its own process. */
async function gatewaySdlFromCli(dir: string): Promise<string> {
  const file = join(dir, 'gateway.graphql');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/write-schema.ts', '--subgraph', file], { cwd: projectRoot, stdio: 'ignore' });
  const [status] = await once(child, 'exit');
  expect(status).toBe(0);
  return readFile(file, 'utf8');
}

/** A supergraph composed outside the gateway, as rover or the Hive CLI would: the gateway's subgraph and the orders subgraph. */
async function composeElsewhere(gatewaySdl: string, orders: TestSubgraph, schema: GraphQLSchema): Promise<string> {
  const result = composeServices([
    { name: 'gateway', url: GATEWAY_SUBGRAPH_URL, typeDefs: parse(gatewaySdl) },
    { name: 'orders', url: orders.url, typeDefs: parse(await sdlOf(schema)) },
  ]);
  if (compositionHasErrors(result)) throw new Error(result.errors.map((error) => error.message).join('; '));
  return result.supergraphSdl;
}

/** Replaces a file at once (write, then rename), as a deployment should: a poll never reads half of it. */
async function replaceFile(file: string, contents: string): Promise<void> {
  await writeFile(`${file}.next`, contents);
  await rename(`${file}.next`, file);
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'supergraph-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each read field by field by its test.
type Answer = { data?: any; errors?: any[] };

async function post(url: string, query: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return (await response.json()) as Answer;
}

/** How many times a subgraph's SDL has been read. */
function sdlReads(subgraph: TestSubgraph): number {
  return subgraph.requests.filter((request) => request.body.includes('_service')).length;
}

/** The gateway's log lines with this message. */
function logged(gateway: TestGateway, msg: string): Record<string, string>[] {
  return gateway.logs.map((line) => JSON.parse(line) as Record<string, string>).filter((entry) => entry.msg === msg);
}

const NOT_READ = 'the supergraph could not be read anew; serving the last good one';

/** The claims of the identity token the subgraph received last. */
function lastClaims(subgraph: TestSubgraph): Record<string, unknown> {
  const token = subgraph.operations().at(-1)!.headers.authorization!.slice('Bearer '.length);
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}

describe('federation: the supergraph read anew', () => {
  test('a new field is served after a poll; a conflict, SDL that does not parse, a subgraph down keep the last good supergraph', async ({ startGateway }) => {
    const orders = await startSubgraph('orders', ordersSchema());
    onTestFinished(() => orders.close());
    const gateway = await startGateway({ env: { SUBGRAPHS: orders.entry, ...POLL } });
    orders.trust({ issuer: gateway.config.issuer, jwksUri: `${gateway.origin}/.well-known/jwks.json`, audience: 'orders' });
    const alice = await register(gateway, 'alice');
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    expect((await post(gateway.url, '{ me { orders { id } } }', auth)).data).toEqual({ me: { orders: [{ id: `${alice.user.id}-order-1` }] } });
    expect(String(lastClaims(orders).scope).split(' ')).not.toContain('orders:write');
    expect((await post(gateway.url, '{ orderTotal }', auth)).errors?.[0]?.message).toMatch(/Cannot query field "orderTotal"/);

    // A new version adds a field (with a scope of its own): served after a poll, and the session's tokens name the scope.
    orders.serve(ordersSchema({ total: true }));
    await until(async () => (await post(gateway.url, '{ orderTotal }', auth)).data?.orderTotal === 42, 'the new field served');
    expect((await post(gateway.url, '{ me { orders { id } } }', auth)).errors).toBeUndefined();
    expect(String(lastClaims(orders).scope).split(' ')).toContain('orders:write');
    // Logged once the runtime has it, which a request may beat.
    await until(() => logged(gateway, 'serving a new supergraph').length === 1, 'the new supergraph logged');

    // A version that conflicts with the gateway's User.username: logged once, naming the subgraph and the field; the last good one stays.
    orders.serve(ordersSchema({ total: true, clash: true }));
    await until(() => logged(gateway, NOT_READ).length === 1, 'the conflict logged');
    const [conflict] = logged(gateway, NOT_READ);
    expect(conflict).toMatchObject({ level: 40, source: 'SUBGRAPHS' });
    expect(conflict!.reason).toMatch(/orders/);
    expect(conflict!.reason).toMatch(/username/);
    const reads = sdlReads(orders);
    await until(() => sdlReads(orders) >= reads + 3, 'three more polls');
    expect(logged(gateway, NOT_READ)).toHaveLength(1);
    expect(await post(gateway.url, '{ orderTotal me { username orders { id } } }', auth)).toEqual({
      data: { orderTotal: 42, me: { username: 'alice', orders: [{ id: `${alice.user.id}-order-1` }] } },
    });

    // SDL that does not parse: a failure of its own, logged once too.
    orders.serve(declaringSchema('type Query {'));
    await until(() => logged(gateway, NOT_READ).length === 2, 'the unparsable SDL logged');
    expect(logged(gateway, NOT_READ)[1]!.reason).toMatch(/^subgraph orders: its SDL does not parse/);
    expect((await post(gateway.url, '{ me { username } }', auth)).data).toEqual({ me: { username: 'alice' } });

    // Fixed: the next version is served, and the recovery logged.
    orders.serve(ordersSchema({ total: true, currency: true }));
    await until(async () => (await post(gateway.url, '{ orderCurrency }', auth)).data?.orderCurrency === 'EUR', 'the fixed version served');
    await until(() => logged(gateway, 'the supergraph reads again').length === 1, 'the recovery logged');
    expect(logged(gateway, 'serving a new supergraph')).toHaveLength(2);

    // Down: its fields stay in the schema (their answers are SUBGRAPH_UNAVAILABLE), the gateway's own resolve.
    await orders.close();
    await until(() => logged(gateway, NOT_READ).length === 3, 'the subgraph down logged');
    expect(logged(gateway, NOT_READ)[2]!.reason).toMatch(
      /^subgraph orders \(http:\/\/127\.0\.0\.1:\d+\/graphql\): its SDL could not be read: fetch failed \(ECONNREFUSED\)/,
    );
    const down = await post(gateway.url, '{ me { username } orderCurrency }', auth);
    expect(down.data).toEqual({ me: { username: 'alice' }, orderCurrency: null });
    expect(down.errors?.[0]?.extensions).toMatchObject({ code: 'SUBGRAPH_UNAVAILABLE', serviceName: 'orders' });
    // No secret in any of it.
    expect(gateway.logs.join('\n')).not.toContain(alice.accessToken);
  });

  test("a new supergraph ends the subgraphs' subscriptions streaming through the gateway, not the gateway's own", async ({ startGateway, realtime }) => {
    const orders = await startSubgraph('orders', ordersSchema());
    const identity = await startSubgraph('identity', identitySchema());
    onTestFinished(async () => {
      await orders.close();
      await identity.close();
    });
    const gateway = await startGateway({ env: { SUBGRAPHS: `${orders.entry},${identity.entry}`, ...POLL } });
    for (const subgraph of [orders, identity]) {
      subgraph.trust({ issuer: gateway.config.issuer, jwksUri: `${gateway.origin}/.well-known/jwks.json`, audience: subgraph.name });
    }
    const alice = await register(gateway, 'alice');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${alice.accessToken}` } });
    await within(socket.connected, 5000, 'ack');
    const events = socket.subscribe('subscription { sessionEvents { kind } }');
    const ticks = socket.subscribe('subscription { ticks }');
    await within(ticks.nth(0), 5000, 'a tick');
    orders.serve(ordersSchema({ total: true }));
    await within(ticks.done, 5000, 'the subgraph stream to end on the new supergraph');
    // Hive Gateway ends it (code SCHEMA_RELOAD); the client subscribes again, on the new supergraph.
    expect(ticks.results.at(-1)).toMatchObject({ errors: [{ extensions: { serviceName: 'identity' } }] });
    expect(await within(socket.subscribe('subscription { ticks }').nth(0), 5000, 'a tick again')).toEqual({ data: { ticks: alice.user.id } });
    await post(gateway.url, `mutation { login(input: { username: "alice", password: "${PASSWORD}" }) { session { id } } }`);
    expect(await within(events.nth(0), 5000, 'a session event after the new supergraph')).toEqual({ data: { sessionEvents: { kind: 'SIGNED_IN' } } });
  });

  test('FederatedGateway.supergraph is the one served, and close() stops the polling', async ({ startGateway }) => {
    const orders = await startSubgraph('orders', ordersSchema());
    onTestFinished(() => orders.close());
    const host = await startGateway();
    const federation = loadConfig({ NODE_ENV: 'test', SUBGRAPHS: orders.entry, ...POLL }).federation!;
    const federated = await createFederatedGateway(host.services, federation);
    onTestFinished(async () => {
      await federated.close();
      await federated.gateway.dispose();
    });
    const initial = federated.supergraph;
    expect(initial).toContain('orderCount');
    orders.serve(ordersSchema({ total: true }));
    await until(() => federated.supergraph.includes('orderTotal'), 'the new supergraph served');
    const answer = await federated.gateway.fetch('http://gateway.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __type(name: "Query") { fields { name } } }' }),
    });
    expect(JSON.stringify(await answer.json())).toContain('orderTotal');
    const served = federated.supergraph;
    orders.serve(ordersSchema({ clash: true }));
    const reads = sdlReads(orders);
    await until(() => sdlReads(orders) >= reads + 3, 'three polls of the conflicting version');
    expect(federated.supergraph).toBe(served);

    await federated.close();
    const afterClose = sdlReads(orders);
    // Another poller at the same interval, to wait on events rather than on a clock.
    const witness = await startSubgraph('orders', ordersSchema());
    onTestFinished(() => witness.close());
    await startGateway({ env: { SUBGRAPHS: witness.entry, ...POLL } });
    await until(() => sdlReads(witness) >= 5, 'another gateway to poll five times');
    // At most the read that was on its way when close() cut it short.
    expect(sdlReads(orders)).toBeLessThanOrEqual(afterClose + 1);
  });

  test("the app's close() stops the polling", async ({ startGateway }) => {
    const orders = await startSubgraph('orders', ordersSchema());
    const witness = await startSubgraph('orders', ordersSchema());
    onTestFinished(async () => {
      await orders.close();
      await witness.close();
    });
    const gateway = await startGateway({ env: { SUBGRAPHS: orders.entry, ...POLL } });
    await until(() => sdlReads(orders) >= 3, 'two polls');
    await gateway.close();
    const afterClose = sdlReads(orders);
    await startGateway({ env: { SUBGRAPHS: witness.entry, ...POLL } });
    await until(() => sdlReads(witness) >= 5, 'another gateway to poll five times');
    // At most the read that was on its way when close() cut it short.
    expect(sdlReads(orders)).toBeLessThanOrEqual(afterClose + 1);
  });

  test('SUPERGRAPH: a supergraph composed elsewhere is served, identity tokens verified by the subgraph, and re-read', async ({ startGateway }) => {
    const dir = await tempDir();
    const orders = await startSubgraph('orders', ordersSchema());
    onTestFinished(() => orders.close());
    const gatewaySdl = await gatewaySdlFromCli(dir);
    const file = join(dir, 'supergraph.graphql');
    await replaceFile(file, await composeElsewhere(gatewaySdl, orders, ordersSchema()));
    const gateway = await startGateway({ env: { SUPERGRAPH: file, SUBGRAPH_AUDIENCES: 'orders=orders-api', ...POLL } });
    orders.trust({ issuer: gateway.config.issuer, jwksUri: `${gateway.origin}/.well-known/jwks.json`, audience: 'orders-api' });
    const alice = await register(gateway, 'alice');
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    expect(await post(gateway.url, '{ me { id username orders { id } } }', auth)).toEqual({
      data: { me: { id: alice.user.id, username: 'alice', orders: [{ id: `${alice.user.id}-order-1` }] } },
    });
    expect(lastClaims(orders)).toMatchObject({ aud: 'orders-api', sub: alice.user.id, iss: gateway.config.issuer });

    // A new supergraph file: served after a poll.
    orders.serve(ordersSchema({ total: true }));
    await replaceFile(file, await composeElsewhere(gatewaySdl, orders, ordersSchema({ total: true })));
    await until(async () => (await post(gateway.url, '{ orderTotal }', auth)).data?.orderTotal === 42, 'the new supergraph file served');

    // A file that does not parse, then none at all: the last good one stays, each logged once.
    await replaceFile(file, 'this is not GraphQL {');
    await until(() => logged(gateway, NOT_READ).length === 1, 'the unparsable file logged');
    expect(logged(gateway, NOT_READ)[0]).toMatchObject({
      source: 'SUPERGRAPH',
      reason: expect.stringMatching(/^SUPERGRAPH: .*supergraph\.graphql does not parse/),
    });
    await rm(file);
    await until(() => logged(gateway, NOT_READ).length === 2, 'the missing file logged');
    expect(logged(gateway, NOT_READ)[1]!.reason).toMatch(/^SUPERGRAPH: .*supergraph\.graphql could not be read: ENOENT/);
    expect((await post(gateway.url, '{ orderTotal me { orders { id } } }', auth)).errors).toBeUndefined();

    // Back: served again.
    orders.serve(ordersSchema({ currency: true }));
    await replaceFile(file, await composeElsewhere(gatewaySdl, orders, ordersSchema({ currency: true })));
    await until(async () => (await post(gateway.url, '{ orderCurrency }', auth)).data?.orderCurrency === 'EUR', 'the restored file served');
    await until(() => logged(gateway, 'the supergraph reads again').length === 1, 'the recovery logged');
  });

  test('SUPERGRAPH that is missing, does not parse or is not a supergraph with the gateway stops the start', async ({ startGateway }) => {
    const dir = await tempDir();
    const orders = await startSubgraph('orders', ordersSchema());
    onTestFinished(() => orders.close());
    const start = (path: string) => startGateway({ env: { SUPERGRAPH: path } });
    const missing = join(dir, 'missing.graphql');
    await expect(start(missing)).rejects.toThrow(ConfigError);
    await expect(start(missing)).rejects.toThrow(/^SUPERGRAPH: .*missing\.graphql could not be read: ENOENT/);
    await writeFile(join(dir, 'broken.graphql'), 'type Query {');
    await expect(start(join(dir, 'broken.graphql'))).rejects.toThrow(/^SUPERGRAPH: .*broken\.graphql does not parse: Syntax Error/);
    // A subgraph's SDL where the supergraph should be.
    await writeFile(join(dir, 'subgraph.graphql'), await sdlOf(ordersSchema()));
    await expect(start(join(dir, 'subgraph.graphql'))).rejects.toThrow(/is not a supergraph/);
    // A supergraph composed without the gateway's own schema.
    const result = composeServices([{ name: 'orders', url: orders.url, typeDefs: parse(await sdlOf(ordersSchema())) }]);
    await writeFile(join(dir, 'without-gateway.graphql'), compositionHasErrors(result) ? '' : result.supergraphSdl);
    await expect(start(join(dir, 'without-gateway.graphql'))).rejects.toThrow(/has no subgraph named "gateway" \(.*subgraphs: orders\)/);
  });

  test('SUBGRAPH_POLL_INTERVAL_MS: a minute by default, 0 turns it off, too short is refused', () => {
    const base = { NODE_ENV: 'test', SUBGRAPHS: 'orders=http://a/graphql' };
    expect(DEFAULT_SUBGRAPH_POLL_INTERVAL_MS).toBe(60_000);
    expect(loadConfig(base).federation?.pollIntervalMs).toBe(60_000);
    expect(loadConfig({ ...base, SUBGRAPH_POLL_INTERVAL_MS: '0' }).federation?.pollIntervalMs).toBe(0);
    expect(configError({ ...base, SUBGRAPH_POLL_INTERVAL_MS: '10' }).message).toBe('SUBGRAPH_POLL_INTERVAL_MS: must be 0 (off) or at least 50');
    expect(configError({ ...base, SUBGRAPH_POLL_INTERVAL_MS: 'often' }).variable).toBe('SUBGRAPH_POLL_INTERVAL_MS');
    // Checked with federation off too.
    expect(configError({ NODE_ENV: 'test', SUBGRAPH_POLL_INTERVAL_MS: '-1' }).variable).toBe('SUBGRAPH_POLL_INTERVAL_MS');
  });
});
