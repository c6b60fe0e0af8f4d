import type { PersonalAccessTokenView } from '../auth/personal-access-tokens/personal-access-tokens.js';
import { builder } from './builder.js';

const PersonalAccessTokenType = builder.objectRef<PersonalAccessTokenView>('PersonalAccessToken').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    scopes: t.field({ type: ['String'], resolve: (p) => [...p.scopes] }),
    prefix: t.exposeString('prefix', { description: "The token's first characters, to recognise it by; never the secret." }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.expiresAt }),
    lastUsedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.lastUsedAt }),
  }),
});

const CreatedPersonalAccessTokenType = builder
  .objectRef<{ token: string; personalAccessToken: PersonalAccessTokenView }>('CreatedPersonalAccessToken')
  .implement({
    fields: (t) => ({
      token: t.exposeString('token', { description: 'The secret. Shown in this response only; the server keeps a hash.' }),
      personalAccessToken: t.field({ type: PersonalAccessTokenType, resolve: (p) => p.personalAccessToken }),
    }),
  });

const CreatePersonalAccessTokenInput = builder.inputType('CreatePersonalAccessTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.stringList({ description: 'Defaults to ["profile:read"].' }),
    expiresInDays: t.int({ description: 'No expiry when omitted.' }),
  }),
});

builder.queryField('personalAccessTokens', (t) =>
  t.withAuth({ scope: 'tokens:read' }).field({
    type: [PersonalAccessTokenType],
    description: "The caller's personal access tokens that are not revoked, newest first.",
    resolve: (_root, _args, { caller, services }) => services.personalAccessTokens.list(caller.userId),
  }),
);

// Creating and revoking tokens manage credentials: a session's own access token only, never a PAT.
builder.mutationField('createPersonalAccessToken', (t) =>
  t.withAuth({ session: true }).field({
    type: CreatedPersonalAccessTokenType,
    args: { input: t.arg({ type: CreatePersonalAccessTokenInput, required: true }) },
    resolve: (_root, { input }, { caller, services, client }) => services.personalAccessTokens.create(caller.userId, input, client),
  }),
);

builder.mutationField('revokePersonalAccessToken', (t) =>
  t.withAuth({ session: true }).boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { caller, services, client }) => {
      await services.personalAccessTokens.revoke(caller.userId, String(id), client);
      return true;
    },
  }),
);
