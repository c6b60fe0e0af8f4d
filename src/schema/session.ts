import type { SessionRow } from '../sessions/session-store.js';
import { NotFoundError } from '../errors.js';
import { builder } from './builder.js';

/** A session as shown to its owner; `current` marks the one the request's credential belongs to. */
export interface SessionView extends SessionRow {
  readonly current: boolean;
}

export const SessionType = builder.objectRef<SessionView>('Session').implement({
  description: 'One signed-in device: a login and the chain of refresh tokens rotated from it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', { description: 'The deviceName given at login, else a label derived from the user agent.' }),
    userAgent: t.exposeString('user_agent', { nullable: true }),
    ip: t.exposeString('ip', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.created_at }),
    lastUsedAt: t.field({ type: 'DateTime', resolve: (s) => s.last_used_at }),
    expiresAt: t.field({ type: 'DateTime', resolve: (s) => s.expires_at }),
    current: t.exposeBoolean('current', { description: "True for the session that the request's own credential belongs to." }),
  }),
});

builder.queryField('devices', (t) =>
  t.withAuth({ scope: 'sessions:read' }).field({
    type: [SessionType],
    description: "The caller's active sessions, newest first.",
    resolve: async (_root, _args, { caller, services }) => {
      const rows = await services.sessions.listActive(caller.userId);
      const currentId = caller.kind === 'session' ? caller.sessionId : undefined;
      return rows.map((row) => ({ ...row, current: row.id === currentId }));
    },
  }),
);

builder.mutationField('logoutAll', (t) =>
  t.withAuth({ session: true }).int({
    description: 'Revokes every session of the caller, the current one included. Returns how many.',
    resolve: async (_root, _args, { caller, services, responseCookies, client }) => {
      const { sessionIds, liveCount } = await services.sessions.revokeAllOfUser(caller.userId, 'LOGOUT_ALL');
      for (const sessionId of sessionIds)
        services.securityEvents.record({ event: 'session.revoked', userId: caller.userId, sessionId, reason: 'LOGOUT_ALL', client });
      responseCookies.push(...services.cookies.clear());
      // The sessions `devices` listed; the user's marker stands for the expired ones too.
      return liveCount;
    },
  }),
);

builder.mutationField('revokeDevice', (t) =>
  t.withAuth({ session: true }).boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { caller, services, client }) => {
      // Another user's session is answered exactly like a missing or revoked one: nothing leaks.
      if (!(await services.sessions.revokeOwn(caller.userId, String(id), 'REVOKED', client))) throw new NotFoundError('Session');
      return true;
    },
  }),
);
