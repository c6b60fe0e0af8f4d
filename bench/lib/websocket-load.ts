import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { compiledBenchScript, PROJECT_ROOT } from './processes.js';
import type { WsDriverSpec, WsOpenedReport } from './ws-driver.js';

export interface IdleConnections {
  readonly report: WsOpenedReport;
  /** Closes every connection and waits for the driver to exit. */
  close(): Promise<void>;
}

/** Opens WebSocket connections from a separate ws-driver process and keeps them idle. */
export async function openIdleConnections(spec: WsDriverSpec): Promise<IdleConnections> {
  const child = spawn(process.execPath, [compiledBenchScript('lib/ws-driver.ts')], {
    cwd: PROJECT_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const exited = once(child, 'exit');
  child.stdin!.write(`${JSON.stringify(spec)}\n`);
  const lines = createInterface({ input: child.stdout! });
  const report = await Promise.race([
    once(lines, 'line').then(([line]) => JSON.parse(String(line)) as WsOpenedReport),
    exited.then(([code]) => {
      throw new Error(`ws-driver exited with ${code} before reporting:\n${stderr}`);
    }),
  ]);
  return {
    report,
    async close() {
      child.stdin!.end('close\n');
      await exited;
    },
  };
}
