/**
 * Raw Argon2id verification throughput, in its own process: the most logins per second the
 * machine could serve with the gateway's parameters. Reads an Argon2ThroughputSpec as JSON on
 * stdin, keeps `concurrency` argon2.verify calls in flight for the duration (on libuv's thread
 * pool, as the gateway does), and writes an Argon2ThroughputResult as JSON on stdout.
 */
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import type { Argon2Config } from '../../src/config.js';
import { percentile } from './stats.js';

export interface Argon2ThroughputSpec {
  readonly params: Argon2Config;
  readonly concurrency: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
}

export interface Argon2ThroughputResult {
  readonly opsPerSecond: number;
  readonly total: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
}

async function readSpec(): Promise<Argon2ThroughputSpec> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Argon2ThroughputSpec;
}

/** Runs `concurrency` verification loops until `seconds` have passed; returns each call's latency. */
async function verifyFor(hash: string, password: string, concurrency: number, seconds: number): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const begin = performance.now();
      if (!(await argon2.verify(hash, password))) throw new Error('argon2.verify refused the right password');
      latencies.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { latencies, elapsedMs: performance.now() - started };
}

const spec = await readSpec();
const password = randomBytes(12).toString('base64url');
const hash = await argon2.hash(password, {
  type: argon2.argon2id,
  memoryCost: spec.params.memoryKiB,
  timeCost: spec.params.iterations,
  parallelism: spec.params.parallelism,
});
if (spec.warmupSeconds > 0) await verifyFor(hash, password, spec.concurrency, spec.warmupSeconds);
const { latencies, elapsedMs } = await verifyFor(hash, password, spec.concurrency, spec.durationSeconds);
latencies.sort((a, b) => a - b);
const result: Argon2ThroughputResult = {
  opsPerSecond: latencies.length / (elapsedMs / 1000),
  total: latencies.length,
  latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
