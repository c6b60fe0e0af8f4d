let ipCounter = 0;

/** A client IP no other request of this test file has used (files run in modules of their own). */
export const nextIp = (): string => `198.51.${Math.floor(++ipCounter / 250) % 256}.${(ipCounter % 250) + 1}`;

/** Request options that name a client IP; the gateway must trust the test as its proxy (TRUSTED_PROXIES). */
export const from = (ip: string = nextIp()): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });
