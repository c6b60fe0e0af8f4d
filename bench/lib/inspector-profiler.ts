import WebSocket from 'ws';
import type { CpuProfile } from './cpu-profile.js';

/**
 * Sampling interval of the CPU profiles: finer than V8's default (1 ms), so that code that runs
 * for microseconds per request still collects samples over a measurement.
 */
export const DEFAULT_SAMPLING_INTERVAL_US = 200;

/** The Node.js option that opens a process's inspector on a loopback port, for NODE_OPTIONS. */
export function inspectOption(port: number): string {
  return `--inspect=127.0.0.1:${port}`;
}

/**
 * A session on another process's inspector (node --inspect), used only for its Profiler domain:
 * profiling through the inspector rather than with --cpu-prof covers exactly the measurement,
 * not the start (composition, migrations) nor the warm-up.
 */
export class InspectorProfiler {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id!);
      if (message.error) pending.reject(new Error(`inspector: ${message.error.message}`));
      else pending.resolve(message.result);
    });
    // A process that exits mid-profile fails the measurement instead of leaving it waiting.
    socket.on('close', () => {
      for (const pending of this.#pending.values()) pending.reject(new Error('inspector: the connection closed'));
      this.#pending.clear();
    });
  }

  /** Connects to the inspector listening on the port (see inspectOption). */
  static async connect(port: number): Promise<InspectorProfiler> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl?: string }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error(`no inspector target on port ${port}`);
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const profiler = new InspectorProfiler(socket);
    await profiler.#post('Profiler.enable');
    return profiler;
  }

  /** The CPU profile of the process while `work` runs, and what `work` returned. */
  async during<T>(work: () => Promise<T>, samplingIntervalUs = DEFAULT_SAMPLING_INTERVAL_US): Promise<{ profile: CpuProfile; result: T }> {
    await this.#post('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    await this.#post('Profiler.start');
    let result: T;
    try {
      result = await work();
    } catch (error) {
      await this.#post('Profiler.stop').catch(() => {});
      throw error;
    }
    const { profile } = (await this.#post('Profiler.stop')) as { profile: CpuProfile };
    return { profile, result };
  }

  close(): void {
    this.#socket.close();
  }

  #post(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }
}
