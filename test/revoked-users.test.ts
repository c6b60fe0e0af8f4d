import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { MARKER_UNCERTAINTY_MS, RevokedUsers, type SessionState } from '../src/revocation/revoked-users.js';

const START = new Date('2030-01-01T00:00:00Z');
const T = START.getTime() + 10_000_500; // the marker's time, half-way through a second
const WINDOW_MS = 960_000;

function markers(sessions: Record<string, SessionState> = {}) {
  const clock = new ManualClock(new Date(T));
  const reads: string[] = [];
  const revokedUsers = new RevokedUsers({
    clock,
    windowMs: WINDOW_MS,
    loadSession: async (sessionId) => {
      reads.push(sessionId);
      return sessions[sessionId];
    },
  });
  revokedUsers.add({ userId: 'u1', revokedBefore: T, exceptSessionId: 'kept' });
  return { clock, revokedUsers, reads };
}

const live = (createdAt: number, revokedAt: number | null = null): SessionState => ({
  createdAt,
  revokedAt,
  expiresAt: T + 86_400_000,
  absoluteExpiresAt: T + 86_400_000,
});

describe('RevokedUsers', () => {
  it.each([
    ['issued well before the marker', 's1', T - MARKER_UNCERTAINTY_MS - 2_000, true],
    ['issued well after the marker (a later sign-in)', 's1', T + MARKER_UNCERTAINTY_MS + 1_000, false],
    ['of the spared session', 'kept', T - 60_000, false],
  ])('decides a token %s without reading the database', async (_what, sessionId, issuedAt, revoked) => {
    const { revokedUsers, reads } = markers();
    expect(await revokedUsers.isRevoked('u1', sessionId, issuedAt)).toBe(revoked);
    expect(reads).toEqual([]);
  });

  it('reads the session once for a token issued in the same second as the marker, and follows its row', async () => {
    const sameSecond = Math.floor(T / 1000) * 1000;
    const { revokedUsers, reads } = markers({
      newer: live(T + 100),
      revoked: live(T - 60_000, T),
      lapsed: { createdAt: T - 60_000, revokedAt: null, expiresAt: T - 1, absoluteExpiresAt: T + 86_400_000 },
      // Created before T by its clock but committed after the revocation's update: not revoked by it.
      racing: live(T - 10),
    });
    expect(await revokedUsers.isRevoked('u1', 'newer', sameSecond)).toBe(false);
    expect(await revokedUsers.isRevoked('u1', 'revoked', sameSecond)).toBe(true);
    expect(await revokedUsers.isRevoked('u1', 'lapsed', sameSecond)).toBe(true);
    expect(await revokedUsers.isRevoked('u1', 'racing', sameSecond)).toBe(false);
    expect(await revokedUsers.isRevoked('u1', 'gone', sameSecond)).toBe(true);
    expect(await revokedUsers.isRevoked('u1', 'newer', sameSecond)).toBe(false);
    expect(reads).toEqual(['newer', 'revoked', 'lapsed', 'racing', 'gone']);
  });

  it('keeps the latest marker of a user and forgets it after one access-token window', async () => {
    const { clock, revokedUsers } = markers();
    expect(revokedUsers.add({ userId: 'u1', revokedBefore: T - 1_000 })).toBe(false);
    expect(revokedUsers.markerOf('u1')?.exceptSessionId).toBe('kept');
    expect(await revokedUsers.isRevoked('u2', 's1', T - 60_000)).toBe(false);
    clock.advance(WINDOW_MS);
    expect(await revokedUsers.isRevoked('u1', 's1', T - 60_000)).toBe(false);
    expect(revokedUsers.size).toBe(0);
  });
});
