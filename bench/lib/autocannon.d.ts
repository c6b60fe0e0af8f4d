// The part of autocannon's programmatic API the load driver uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string;
      setupRequest?: (request: Request, context: Record<string, unknown>) => Request | null | undefined;
      onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
    }
    interface Client {
      setRequests(requests: Request[]): void;
    }
    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      overallRate?: number;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      requests?: Request[];
      setupClient?: (client: Client) => void;
      verifyBody?: (body: string) => boolean;
      timeout?: number;
    }
    interface Histogram {
      average: number;
      mean: number;
      max: number;
      min: number;
      total: number;
      p50: number;
      p90: number;
      p99: number;
    }
    interface Result {
      requests: Histogram & { sent: number };
      latency: Histogram;
      errors: number;
      timeouts: number;
      non2xx: number;
      mismatches: number;
      duration: number;
    }
  }
  /** A running benchmark: its events, and a promise of the result. */
  interface Instance extends PromiseLike<autocannon.Result> {
    on(event: 'response', listener: (client: autocannon.Client, statusCode: number, bytes: number, responseTimeMs: number) => void): this;
  }
  function autocannon(options: autocannon.Options): Instance;
  export = autocannon;
}
