import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type SessionEvent, SessionEvents } from '../src/realtime/session-events.js';
import { connectRedis, type RedisConnections, safePublisher, safeSubscriber } from '../src/redis.js';
import { until } from './helpers/until.js';

const redisUrl = process.env.TEST_REDIS_URL;
if (!redisUrl) console.warn('session-events Redis tests SKIPPED: set TEST_REDIS_URL to run them');

const logger = pino({ level: 'silent' });

describe.skipIf(!redisUrl)('session events over a shared Redis', () => {
  const opened: RedisConnections[] = [];
  const instances: SessionEvents[] = [];
  afterEach(async () => {
    for (const events of instances.splice(0)) events.close();
    for (const connections of opened.splice(0)) await connections.close();
  });

  async function connect(): Promise<RedisConnections> {
    const connections = connectRedis(redisUrl!, logger);
    opened.push(connections);
    await Promise.all([once(connections.commands, 'ready'), once(connections.subscriber, 'ready')]);
    return connections;
  }

  /** One gateway instance's session events; `publisher` is shared so that publishes stay in order. */
  async function instance(topicPrefix: string, publisher: RedisConnections): Promise<SessionEvents> {
    const { subscriber } = await connect();
    const events = new SessionEvents({
      logger,
      topicPrefix,
      eventTarget: createRedisEventTarget({ publishClient: safePublisher(publisher.commands, logger), subscribeClient: safeSubscriber(subscriber, logger) }),
    });
    instances.push(events);
    return events;
  }

  it('keeps deployments with different REDIS_KEY_PREFIX apart and joins the instances of one', async () => {
    const publisher = await connect();
    const deploymentA = `test-${randomUUID()}:`;
    const deploymentB = `test-${randomUUID()}:`;
    const [a1, a2, b] = [await instance(deploymentA, publisher), await instance(deploymentA, publisher), await instance(deploymentB, publisher)];
    // The same user id in both deployments: with a shared topic, each would hear the other's.
    const userId = randomUUID();
    const heard = { a2: [] as SessionEvent[], b: [] as SessionEvent[] };
    a2.listen(userId, (event) => heard.a2.push(event));
    b.listen(userId, (event) => heard.b.push(event));
    const channels = async () => (await publisher.commands.pubsub('CHANNELS', `*${userId}`)) as string[];
    await until(async () => (await channels()).length === 2, 'both deployments to subscribe');
    expect((await channels()).sort()).toEqual([`${deploymentA}session-events:${userId}`, `${deploymentB}session-events:${userId}`].sort());

    a1.publish(userId, { kind: 'SIGNED_IN', sessionId: 'in deployment A', at: 1 });
    // Published after A's event on the same connection, so delivered after it, had A's reached B.
    b.publish(userId, { kind: 'SIGNED_IN', sessionId: 'in deployment B', at: 2 });
    await until(() => heard.a2.length > 0 && heard.b.length > 0, 'both events to arrive');
    expect(heard.a2.map((event) => event.sessionId)).toEqual(['in deployment A']);
    expect(heard.b.map((event) => event.sessionId)).toEqual(['in deployment B']);
  });
});
