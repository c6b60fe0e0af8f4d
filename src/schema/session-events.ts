import { builder } from './builder.js';

// PLACEHOLDER until issue 4 lands: the contract's types, the subscription not yet built.
const SessionEventKind = builder.enumType('SessionEventKind', {
  values: {
    SIGNED_IN: { description: "A new session of the caller's account was created (a login on another device)." },
    REVOKED: { description: "A session of the caller's account was revoked (logout, revokeDevice, logoutAll, password change)." },
  } as const,
});

interface SessionEvent {
  kind: 'SIGNED_IN' | 'REVOKED';
  sessionId: string;
  at: number;
}

const SessionEventType = builder.objectRef<SessionEvent>('SessionEvent').implement({
  fields: (t) => ({
    kind: t.field({ type: SessionEventKind, resolve: (e) => e.kind }),
    sessionId: t.exposeID('sessionId'),
    at: t.field({ type: 'DateTime', resolve: (e) => e.at }),
  }),
});

builder.subscriptionType({});
builder.subscriptionField('sessionEvents', (t) =>
  t.withAuth({ authenticated: true }).field({
    type: SessionEventType,
    description: "Events about the caller's own sessions.",
    subscribe: () => {
      throw new Error('not implemented');
    },
    resolve: (event: SessionEvent) => event,
  }),
);
