import type { SessionCaller } from '../auth/caller.js';
import type { SsoIdentityRow } from '../sso/identity-store.js';
import type { SsoProviderSummary } from '../sso/single-sign-on.js';
import { AuthPayloadType, deliver, TokenDelivery } from './auth.js';
import { builder } from './builder.js';
import { UserType } from './user.js';

const SsoProviderType = builder.objectRef<SsoProviderSummary>('SsoProvider').implement({
  description: 'An OpenID Connect provider to sign in with (single sign-on).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'What startSso, completeSso and the /auth/sso/<name> routes take.' }),
    displayName: t.exposeString('displayName', { description: 'What a sign-in button says.' }),
  }),
});

const SsoIdentityType = builder.objectRef<SsoIdentityRow>('SsoIdentity').implement({
  description: 'An identity at a provider, linked to the account: signing in with it signs in to the account.',
  fields: (t) => ({
    provider: t.exposeString('provider'),
    subject: t.exposeString('subject', { description: "The provider's identifier of the user (the ID token's `sub`)." }),
    email: t.exposeString('email', { nullable: true, description: 'The email the provider gave at the last sign-in; shown only, never used to link.' }),
    linkedAt: t.field({ type: 'DateTime', resolve: (identity) => identity.created_at }),
  }),
});

const SsoIntent = builder.enumType('SsoIntent', {
  description: 'What a single sign-on started by startSso is for.',
  values: {
    SIGN_IN: { description: 'Sign in (completeSso); the first sign-in of an identity creates an account.' },
    LINK: { description: "Link the identity to the signed-in caller's account (linkSsoIdentity). Needs a session." },
  } as const,
});

builder.objectField(UserType, 'identities', (t) =>
  t.field({
    type: [SsoIdentityType],
    description: 'The single sign-on identities linked to the account.',
    resolve: (user, _args, { services }) => services.sso.identities(user.id),
  }),
);

builder.queryField('ssoProviders', (t) =>
  t.field({
    type: [SsoProviderType],
    description: 'The configured single sign-on providers (none when single sign-on is off).',
    resolve: (_root, _args, { services }) => services.sso.providers,
  }),
);

builder.mutationField('startSso', (t) =>
  t.string({
    description:
      "Starts a single sign-on; returns the provider's authorization URL to send the browser to. The provider\n" +
      'sends it back to `redirectUri` (a URL of SSO_RETURN_TO_ORIGINS, registered with the provider) with\n' +
      '`code`, `state` and `iss`: pass them to completeSso (or linkSsoIdentity for intent LINK) within 10 minutes.',
    args: {
      provider: t.arg.string({ required: true }),
      redirectUri: t.arg.string({ required: true }),
      intent: t.arg({ type: SsoIntent, defaultValue: 'SIGN_IN' }),
    },
    // A link is for the account of the session that starts it.
    authScopes: (_root, { intent }) => (intent === 'LINK' ? { session: true } : true),
    resolve: async (_root, { provider, redirectUri, intent }, { services, caller }) => {
      const url =
        intent === 'LINK'
          ? // authScopes admits LINK for a session only.
            await services.sso.startLink((caller as SessionCaller).userId, provider, redirectUri)
          : await services.sso.startSignIn(provider, redirectUri);
      return url.href;
    },
  }),
);

builder.mutationField('completeSso', (t) =>
  t.field({
    type: AuthPayloadType,
    description:
      'Completes a single sign-on started by startSso (intent SIGN_IN) with what the provider sent to the redirect\n' +
      'URI. The first sign-in of an identity creates an account without a password; an identity is never linked\n' +
      'to an existing account because an email matches (see linkSsoIdentity).',
    args: {
      provider: t.arg.string({ required: true }),
      code: t.arg.string({ required: true }),
      state: t.arg.string({ required: true }),
      iss: t.arg.string({ description: 'The `iss` parameter the provider sent with the code, if any (RFC 9207).' }),
      deviceName: t.arg.string(),
      refreshTokenDelivery: t.arg({ type: TokenDelivery, defaultValue: 'COOKIE' }),
    },
    resolve: async (_root, { provider, code, state, iss, deviceName, refreshTokenDelivery }, context) => {
      const signedIn = await context.services.sso.completeSignIn(provider, { code, state, iss }, context.client, deviceName);
      return deliver(context, signedIn, refreshTokenDelivery ?? 'COOKIE');
    },
  }),
);

builder.mutationField('linkSsoIdentity', (t) =>
  t.withAuth({ session: true }).field({
    type: SsoIdentityType,
    description: "Links the identity a startSso with intent LINK proved to the caller's account.",
    args: {
      provider: t.arg.string({ required: true }),
      code: t.arg.string({ required: true }),
      state: t.arg.string({ required: true }),
      iss: t.arg.string({ description: 'The `iss` parameter the provider sent with the code, if any (RFC 9207).' }),
    },
    resolve: (_root, { provider, code, state, iss }, { caller, services, client }) => services.sso.link(caller.userId, provider, { code, state, iss }, client),
  }),
);

builder.mutationField('unlinkSsoIdentity', (t) =>
  t.withAuth({ session: true }).boolean({
    description:
      "Unlinks the caller's identity at a provider. Refused (BAD_USER_INPUT, reason LAST_SIGN_IN_METHOD) when the\n" +
      'account would have no way left to sign in: no password, no other identity, no verified email address.',
    args: { provider: t.arg.string({ required: true }) },
    resolve: async (_root, { provider }, { caller, services, client }) => {
      await services.sso.unlink(caller.userId, provider, client);
      return true;
    },
  }),
);
