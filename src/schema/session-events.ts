import { sessionEventStream } from '../realtime/session-event-stream.js';
import type { SessionEvent } from '../realtime/session-events.js';
import { builder } from './builder.js';

const SessionEventKind = builder.enumType('SessionEventKind', {
  values: {
    SIGNED_IN: { description: "A new session of the caller's account was created (a login on another device)." },
    REVOKED: { description: "A session of the caller's account was revoked (logout, revokeDevice, logoutAll, password change)." },
  } as const,
});

const SessionEventType = builder.objectRef<SessionEvent>('SessionEvent').implement({
  fields: (t) => ({
    kind: t.field({ type: SessionEventKind, resolve: (e) => e.kind }),
    sessionId: t.exposeID('sessionId'),
    at: t.field({ type: 'DateTime', resolve: (e) => e.at }),
  }),
});

builder.subscriptionType({});
builder.subscriptionField('sessionEvents', (t) =>
  t.withAuth({ scope: 'sessions:read' }).field({
    type: SessionEventType,
    description: "Events about the caller's own sessions.",
    subscribe: (_root, _args, context) => sessionEventStream(context),
    resolve: (event: SessionEvent) => event,
  }),
);
