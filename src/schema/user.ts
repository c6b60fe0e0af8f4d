import type { UserProfile } from '../accounts/user-cache.js';
import { hasScope } from '../auth/caller.js';
import { builder } from './builder.js';

export const UserType = builder.objectRef<UserProfile>('User').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    username: t.exposeString('username'),
    createdAt: t.field({ type: 'DateTime', resolve: (user) => user.created_at }),
    email: t.exposeString('email', { nullable: true, description: "The account's address, verified or not; null without one." }),
    emailVerified: t.boolean({
      description: 'Whether `email` was verified with a code; only a verified address signs in with a code or resets the password.',
      resolve: (user) => user.email_verified_at !== null,
    }),
  }),
});

// An entity, so that subgraphs add fields to User (`orders`). The gateway resolves a reference
// only to the caller's own account, with the scope `me` needs: a subgraph that returns another
// user's id cannot make the gateway read that user's profile for it.
builder.asEntity(UserType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: ({ id }, { caller, services }) =>
    caller !== null && caller.userId === id && hasScope(caller, 'profile:read') ? services.accounts.profile(id) : null,
});

builder.queryField('me', (t) =>
  t.withAuth({ scope: 'profile:read' }).field({
    type: UserType,
    description: 'The caller. UNAUTHENTICATED without a valid credential.',
    resolve: (_root, _args, { caller, services }) => services.accounts.profile(caller.userId),
  }),
);

builder.mutationField('updateUsername', (t) =>
  t.withAuth({ scope: 'profile:write' }).field({
    type: UserType,
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, { username }, { caller, services }) => services.accounts.updateUsername(caller.userId, username),
  }),
);

builder.mutationField('changePassword', (t) =>
  t.withAuth({ session: true }).boolean({
    description: 'Revokes every other session of the caller.',
    args: {
      currentPassword: t.arg.string({ required: true }),
      newPassword: t.arg.string({ required: true }),
    },
    resolve: async (_root, { currentPassword, newPassword }, { caller, services, client }) => {
      await services.accounts.changePassword(caller.userId, currentPassword, newPassword, caller.sessionId, client);
      return true;
    },
  }),
);

builder.mutationField('deleteAccount', (t) =>
  t.withAuth({ session: true }).boolean({
    description: "Deletes the caller's account, its sessions and tokens.",
    args: { password: t.arg.string({ required: true }) },
    resolve: async (_root, { password }, { caller, services, responseCookies, client }) => {
      await services.accounts.deleteAccount(caller.userId, password, client, caller.sessionId);
      responseCookies.push(...services.cookies.clear());
      return true;
    },
  }),
);
