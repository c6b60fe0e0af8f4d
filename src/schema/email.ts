import { AuthPayloadType, deliver, TokenDelivery } from './auth.js';
import { builder } from './builder.js';
import { UserType } from './user.js';

const EmailCodePurpose = builder.enumType('EmailCodePurpose', {
  description: 'What a code sent by email is for.',
  values: {
    SIGN_IN: { description: "signInWithEmailCode; sent to an account's verified address only." },
    VERIFY_EMAIL: { description: "verifyEmail; sent to the signed-in caller's own unverified address only." },
    RESET_PASSWORD: { description: "resetPassword; sent to an account's verified address only." },
  } as const,
});

builder.mutationField('requestEmailCode', (t) =>
  t.boolean({
    description:
      'Sends a 6-digit code, valid 10 minutes, replacing any earlier one of the purpose. Answers true\nwhether or not the address belongs to an account (nothing is sent then).',
    args: {
      email: t.arg.string({ required: true }),
      purpose: t.arg({ type: EmailCodePurpose, required: true }),
    },
    resolve: async (_root, { email, purpose }, { caller, services, client }) => {
      await services.emailCodes.requestCode(email, purpose, { userId: caller?.kind === 'session' ? caller.userId : undefined, client });
      return true;
    },
  }),
);

builder.mutationField('signInWithEmailCode', (t) =>
  t.field({
    type: AuthPayloadType,
    description: 'Signs in with a SIGN_IN code sent to a verified address. INVALID_CODE for any code refused.',
    args: {
      email: t.arg.string({ required: true }),
      code: t.arg.string({ required: true }),
      refreshTokenDelivery: t.arg({ type: TokenDelivery, defaultValue: 'COOKIE' }),
      deviceName: t.arg.string(),
    },
    resolve: async (_root, { email, code, refreshTokenDelivery, deviceName }, context) => {
      const signedIn = await context.services.emailCodes.signIn({ email, code, deviceName }, context.client);
      return deliver(context, signedIn, refreshTokenDelivery ?? 'COOKIE');
    },
  }),
);

builder.mutationField('updateEmail', (t) =>
  t.withAuth({ session: true }).field({
    type: UserType,
    description:
      "Sets the caller's address, unverified unless it is the same one, and sends a VERIFY_EMAIL code to\nit. `currentPassword` is required when the account has a password.",
    args: {
      email: t.arg.string({ required: true }),
      currentPassword: t.arg.string(),
    },
    resolve: (_root, { email, currentPassword }, { caller, services, client }) =>
      services.emailCodes.updateEmail(caller.userId, email, currentPassword, client, caller.sessionId),
  }),
);

builder.mutationField('verifyEmail', (t) =>
  t.withAuth({ session: true }).field({
    type: UserType,
    description: "Verifies the caller's address with its VERIFY_EMAIL code. INVALID_CODE for any code refused.",
    args: { code: t.arg.string({ required: true }) },
    resolve: (_root, { code }, { caller, services, client }) => services.emailCodes.verifyEmail(caller.userId, code, client, caller.sessionId),
  }),
);

builder.mutationField('resetPassword', (t) =>
  t.boolean({
    description: 'Sets a new password with a RESET_PASSWORD code and revokes every session of the account.\nINVALID_CODE for any code refused.',
    args: {
      email: t.arg.string({ required: true }),
      code: t.arg.string({ required: true }),
      newPassword: t.arg.string({ required: true }),
    },
    resolve: async (_root, { email, code, newPassword }, { services, client }) => {
      await services.emailCodes.resetPassword({ email, code, newPassword }, client);
      return true;
    },
  }),
);
