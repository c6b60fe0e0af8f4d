import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How long a server may take to answer its readiness check. */
export const DEFAULT_START_TIMEOUT_MS = 60_000;

/**
 * The compiled form of a bench script (see bench/tsconfig.build.json): servers, drivers and the
 * gateway run as plain `node` on compiled JavaScript, never under a TypeScript loader, so that
 * every process measured or measuring runs the same way.
 */
export function compiledBenchScript(relativeToBench: string): string {
  return join(PROJECT_ROOT, 'dist', 'bench', relativeToBench.replace(/\.ts$/, '.js'));
}

/** Where the server tells that it is listening. */
export type Readiness =
  /** The process prints a JSON line `{"ready":true,"port":N}` on stdout. */
  | { readonly kind: 'ready-line' }
  /** The process listens on a port chosen beforehand; ready once `path` answers 200. */
  | { readonly kind: 'http'; readonly port: number; readonly path: string };

export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  readonly origin: string;
  /** What the process wrote on stdout and stderr, kept for error messages. */
  readonly output: string[];
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly script: string;
  readonly args?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly readiness: Readiness;
  readonly timeoutMs?: number;
}

/** Starts `node script` and waits until it is ready. */
export async function startServerProcess({ script, args = [], env, readiness, timeoutMs = DEFAULT_START_TIMEOUT_MS }: StartOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr!.on('data', (chunk) => keepTail(output, String(chunk)));
  child.stdout!.on('data', (chunk) => keepTail(output, String(chunk)));
  const exited = once(child, 'exit');
  const stop = () => stopChild(child, exited);
  try {
    const port = await withTimeout(waitUntilReady(child, readiness, output), timeoutMs, () => `${script} did not become ready:\n${output.join('')}`);
    return { pid: child.pid!, port, origin: `http://127.0.0.1:${port}`, output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function keepTail(output: string[], chunk: string): void {
  output.push(chunk);
  if (output.length > 200) output.splice(0, output.length - 200);
}

async function waitUntilReady(child: ChildProcess, readiness: Readiness, output: string[]): Promise<number> {
  const exit = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`process exited (${code ?? signal}) before it was ready:\n${output.join('')}`))),
  );
  if (readiness.kind === 'ready-line') {
    const line = new Promise<number>((resolve) => {
      let buffered = '';
      child.stdout!.on('data', (chunk) => {
        buffered += String(chunk);
        const match = /\{"ready":true,"port":(\d+)\}/.exec(buffered);
        if (match) resolve(Number(match[1]));
      });
    });
    return Promise.race([line, exit]);
  }
  const url = `http://127.0.0.1:${readiness.port}${readiness.path}`;
  const poll = (async () => {
    for (;;) {
      try {
        const response = await fetch(url);
        await response.arrayBuffer();
        if (response.ok) return readiness.port;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return Promise.race([poll, exit]);
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `node script` to completion with `input` on stdin and returns the JSON object of its
 * last stdout line; a non-zero exit rejects with its stderr.
 */
export async function runJsonProcess<T>(script: string, input: unknown, env: Readonly<Record<string, string>> = {}): Promise<T> {
  const child = spawn(process.execPath, [script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  child.stdin!.end(JSON.stringify(input));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${script} exited with ${code}:\n${stderr}`);
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

/**
 * A loopback port free at the time of asking. Used for the gateway, whose "listening" line is
 * an info log that LOG_LEVEL=warn (the setting it is measured with) does not print.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** The resident set size of a process in bytes (Linux /proc; `ps` elsewhere). */
export async function residentBytes(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall through to ps.
  }
  const ps = spawn('ps', ['-o', 'rss=', '-p', String(pid)]);
  let out = '';
  ps.stdout.on('data', (chunk) => (out += String(chunk)));
  await once(ps, 'exit');
  return Number(out.trim()) * 1024;
}
