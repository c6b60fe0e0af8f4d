import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** One client connection and its upstream, with what a stall held back in each direction. */
interface Link {
  readonly client: Socket;
  /** Opened when the client connects, or when a stall that was in force then ends. */
  upstream: Socket | undefined;
  readonly toUpstream: Buffer[];
  readonly toClient: Buffer[];
}

/**
 * A loopback TCP proxy in front of a real service (PostgreSQL, Redis), so a test can inject
 * network faults between one gateway and the service without touching the service or the other
 * gateways (each has a proxy of its own: faulting one proxy partitions one instance):
 * - cut(): refuse, as if the service were down (connections dropped, new ones refused);
 * - drop(): drop the connections but accept new ones, as after a network blip or a restart;
 * - stall(): keep every connection open and accept new ones, but forward no byte either way
 *   until resume(), as a hung service or a black-holed route does. Nothing is lost: what was
 *   sent meanwhile arrives on resume(), as TCP retransmission would deliver it.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #links = new Set<Link>();
  #open = true;
  #stalled = false;

  private constructor(server: Server, targetHost: string, targetPort: number) {
    this.#server = server;
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
  }

  /** Starts a proxy on 127.0.0.1 (port 0) to the target. */
  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => proxy.#accept(client));
    proxy = new TcpProxy(server, targetHost, targetPort);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** How many client connections are open (stalled ones included). */
  get connections(): number {
    return this.#links.size;
  }

  /** Drops every connection and refuses new ones, as if the service went down. */
  cut(): void {
    this.#open = false;
    this.drop();
  }

  /** Drops every connection (both ends see it closed); new ones are still accepted. */
  drop(): void {
    for (const link of [...this.#links]) this.#close(link);
  }

  /** Forwards nothing, either way, on open and new connections, until resume(). */
  stall(): void {
    this.#stalled = true;
  }

  /** Ends a stall: opens the upstreams of connections made during it, then delivers what was held. */
  resume(): void {
    this.#stalled = false;
    for (const link of this.#links) {
      if (!link.upstream) this.#connectUpstream(link);
      this.#flush(link);
    }
  }

  /** Lets connections through again, after cut() or stall(). */
  restore(): void {
    this.#open = true;
    this.resume();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (!this.#open) {
      client.destroy();
      return;
    }
    const link: Link = { client, upstream: undefined, toUpstream: [], toClient: [] };
    this.#links.add(link);
    client.on('data', (chunk: Buffer) => {
      link.toUpstream.push(chunk);
      this.#flush(link);
    });
    client.on('error', () => this.#close(link));
    client.on('close', () => this.#close(link));
    // A stalled route does not even reach the service: the upstream opens on resume().
    if (!this.#stalled) this.#connectUpstream(link);
  }

  #connectUpstream(link: Link): void {
    const upstream = connect(this.#targetPort, this.#targetHost);
    link.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      link.toClient.push(chunk);
      this.#flush(link);
    });
    upstream.on('error', () => this.#close(link));
    upstream.on('close', () => this.#close(link));
    this.#flush(link);
  }

  #flush(link: Link): void {
    if (this.#stalled || !link.upstream) return;
    for (const chunk of link.toUpstream.splice(0)) link.upstream.write(chunk);
    for (const chunk of link.toClient.splice(0)) link.client.write(chunk);
  }

  #close(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }
}

/** Host and port of a service URL such as postgres://user@host:5432/db. */
export function hostAndPort(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port === '' ? defaultPort : Number(parsed.port) };
}

/** The same URL pointed at another host and port. */
export function throughProxy(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.href;
}
