import { expect } from 'vitest';
import { errorCode, type GraphQLResponse } from './graphql-client.js';

/**
 * Asserts a RATE_LIMITED refusal: HTTP 429, no data, and a Retry-After header equal to
 * extensions.retryAfter, which is either exactly `retryAfter` or within `{ min, max }` (a window
 * counted by Redis's own clock, which no test can hold still).
 */
export function expectRateLimited(response: GraphQLResponse<unknown>, retryAfter: number | { readonly min: number; readonly max: number }): void {
  expect(response.status).toBe(429);
  expect(errorCode(response)).toBe('RATE_LIMITED');
  const told = response.errors![0]!.extensions!.retryAfter as number;
  if (typeof retryAfter === 'number') expect(told).toBe(retryAfter);
  else {
    expect(told).toBeGreaterThanOrEqual(retryAfter.min);
    expect(told).toBeLessThanOrEqual(retryAfter.max);
  }
  expect(response.headers.get('retry-after')).toBe(String(told));
  expect(response.data ?? null).toBeNull();
}
