import type { UserRow } from '../accounts/user-store.js';
import { UnauthenticatedError } from '../errors.js';
import { builder } from './builder.js';

export const UserType = builder.objectRef<UserRow>('User').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    username: t.exposeString('username'),
    createdAt: t.field({ type: 'DateTime', resolve: (user) => user.created_at }),
  }),
});

builder.queryField('me', (t) =>
  t.withAuth({ scope: 'profile:read' }).field({
    type: UserType,
    description: 'The caller. UNAUTHENTICATED without a valid credential.',
    resolve: async (_root, _args, { caller, services }) => {
      const user = await services.users.findById(caller.userId);
      if (!user) throw new UnauthenticatedError('USER_NOT_FOUND');
      return user;
    },
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
