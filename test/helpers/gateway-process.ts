import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface GatewayProcess {
  readonly origin: string;
  readonly url: string;
  readonly wsUrl: string;
  readonly child: ChildProcess;
  /** Everything the process wrote, stdout and stderr. */
  readonly output: string[];
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (kill -9) and wait for the exit: no cleanup runs. */
  kill(): Promise<void>;
}

/**
 * The real gateway (src/main.ts) in its own process, on a loopback port the OS picks, with the
 * given environment on top of test defaults. Resolves once it logs that it is listening.
 */
export async function spawnGateway(env: Record<string, string>, timeoutMs = 20_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      JWT_ISSUER: 'http://gateway.test',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in time:\n${output.join('')}`)), timeoutMs);
    let buffered = '';
    child.stdout!.on('data', (chunk) => {
      output.push(String(chunk));
      buffered += String(chunk);
      const match = /"port":(\d+),[^\n]*"msg":"gateway listening"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${output.join('')}`));
    });
  });
  const origin = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  return {
    origin,
    url: `${origin}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
