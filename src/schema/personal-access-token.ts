import { builder } from './builder.js';

// PLACEHOLDER until issue 3 lands: the contract's types, resolvers not yet built.
interface PersonalAccessTokenView {
  id: string;
  name: string;
  scopes: string[];
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

const PersonalAccessTokenType = builder.objectRef<PersonalAccessTokenView>('PersonalAccessToken').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    scopes: t.exposeStringList('scopes'),
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
    resolve: () => {
      throw new Error('not implemented');
    },
  }),
);

builder.mutationField('createPersonalAccessToken', (t) =>
  t.withAuth({ session: true }).field({
    type: CreatedPersonalAccessTokenType,
    args: { input: t.arg({ type: CreatePersonalAccessTokenInput, required: true }) },
    resolve: () => {
      throw new Error('not implemented');
    },
  }),
);

builder.mutationField('revokePersonalAccessToken', (t) =>
  t.withAuth({ session: true }).boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: () => {
      throw new Error('not implemented');
    },
  }),
);
