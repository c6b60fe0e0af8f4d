import type { SignedIn } from '../accounts/accounts.js';
import type { UserProfile } from '../accounts/user-cache.js';
import type { GatewayContext } from '../context.js';
import { refreshTokenFromCookie } from '../credentials/auth-cookie-values.js';
import { UnauthenticatedError } from '../errors.js';
import type { SessionGrant } from '../sessions/session-store.js';
import { builder, type BuilderTypes } from './builder.js';
import { SessionType } from './session.js';
import { UserType } from './user.js';

export type Delivery = 'COOKIE' | 'BODY';

interface AuthPayload {
  readonly accessToken: string;
  readonly accessTokenExpiresAt: number;
  readonly refreshToken: string | null;
  readonly refreshTokenExpiresAt: number;
  readonly user: UserProfile;
  readonly grant: SessionGrant;
}

export const TokenDelivery = builder.enumType('TokenDelivery', {
  description: 'How the refresh token is handed to the client.',
  values: {
    COOKIE: { description: 'In the httpOnly `refreshToken` cookie only (browsers). AuthPayload.refreshToken is null.' },
    BODY: { description: 'In AuthPayload.refreshToken only, no cookie (native apps, CLIs, servers).' },
  } as const,
});

export const AuthPayloadType = builder.objectRef<AuthPayload>('AuthPayload').implement({
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    accessTokenExpiresAt: t.field({ type: 'DateTime', resolve: (p) => p.accessTokenExpiresAt }),
    refreshToken: t.exposeString('refreshToken', {
      nullable: true,
      description: 'Null unless the refresh token travels in the body (BODY delivery).',
    }),
    refreshTokenExpiresAt: t.field({ type: 'DateTime', resolve: (p) => p.refreshTokenExpiresAt }),
    user: t.field({ type: UserType, resolve: (p) => p.user }),
    session: t.field({ type: SessionType, resolve: (p) => ({ ...p.grant.session, current: true }) }),
  }),
});

const credentialFields = (t: PothosSchemaTypes.InputFieldBuilder<BuilderTypes, 'InputObject'>) => ({
  username: t.string({ required: true }),
  password: t.string({ required: true }),
  deviceName: t.string(),
  refreshTokenDelivery: t.field({ type: TokenDelivery, defaultValue: 'COOKIE' }),
});

const RegisterInput = builder.inputType('RegisterInput', { fields: credentialFields });
const LoginInput = builder.inputType('LoginInput', { fields: credentialFields });

/** Hands a sign-in's tokens over: the refresh token over the chosen channel, the access token with it. */
export function deliver(context: GatewayContext, { user, accessToken: access, ...grant }: SignedIn, delivery: Delivery): AuthPayload {
  const { cookies, clock } = context.services;
  if (delivery === 'COOKIE') {
    const now = clock.now();
    context.responseCookies.push(
      cookies.refreshToken(grant.refreshToken, grant.refreshTokenExpiresAt, now),
      cookies.accessToken(access.token, access.expiresAt, now),
    );
  }
  return {
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: delivery === 'BODY' ? grant.refreshToken : null,
    refreshTokenExpiresAt: grant.refreshTokenExpiresAt,
    user,
    grant,
  };
}

builder.mutationField('register', (t) =>
  t.field({
    type: AuthPayloadType,
    args: {
      input: t.arg({ type: RegisterInput, required: true }),
      // An argument rather than a field of RegisterInput: a field added to an input type is not an
      // addition the contract check lets through.
      email: t.arg.string({ description: 'Stored unverified; its code is asked for with requestEmailCode(email, VERIFY_EMAIL).' }),
    },
    resolve: async (_root, { input, email }, context) => {
      const signedIn = await context.services.accounts.register({ ...input, email }, context.client);
      return deliver(context, signedIn, input.refreshTokenDelivery ?? 'COOKIE');
    },
  }),
);

builder.mutationField('login', (t) =>
  t.field({
    type: AuthPayloadType,
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const signedIn = await context.services.accounts.login(input, context.client);
      return deliver(context, signedIn, input.refreshTokenDelivery ?? 'COOKIE');
    },
  }),
);

builder.mutationField('refresh', (t) =>
  t.field({
    type: AuthPayloadType,
    description:
      'Rotates a refresh token. With the argument: BODY delivery. Without it: the `refreshToken`\ncookie is read and a new cookie is set (COOKIE delivery).',
    args: { refreshToken: t.arg.string() },
    resolve: async (_root, args, context) => {
      const delivery: Delivery = args.refreshToken == null ? 'COOKIE' : 'BODY';
      const presented = args.refreshToken ?? refreshTokenFromCookie(context.request.headers.get('cookie'));
      if (presented === undefined || presented === '') throw new UnauthenticatedError('TOKEN_MISSING');
      return deliver(context, await context.services.accounts.refresh(presented, context.client), delivery);
    },
  }),
);

builder.mutationField('logout', (t) =>
  t.withAuth({ session: true }).boolean({
    description: 'Revokes the current session and clears the cookies.',
    resolve: async (_root, _args, { caller, services, responseCookies, client }) => {
      await services.sessions.revoke(caller.sessionId, 'LOGOUT', client);
      responseCookies.push(...services.cookies.clear());
      return true;
    },
  }),
);
