import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { ClientInfo, SignedIn } from '../accounts/accounts.js';
import type { UserRow, UserStore } from '../accounts/user-store.js';
import { constantTimeEqual, generateOpaqueToken, hashToken } from '../auth/opaque-token.js';
import type { Clock } from '../clock.js';
import type { SsoConfig, SsoProviderConfig } from '../config.js';
import type { SsoPurpose } from '../db/tables.js';
import { BadUserInputError, LastSignInMethodError, NotFoundError, SsoError, type SsoFailureReason } from '../errors.js';
import type { SecurityEventRecorder } from '../security-events/security-event.js';
import type { LinkOutcome, ProvenIdentity, SsoIdentityRow, SsoIdentityStore } from './identity-store.js';
import type { PendingLogin, SsoPendingLogins } from './pending-logins.js';
import { allowedReturnUrl } from './return-url.js';
import { describeProviderError, isProviderUnreachable, type SsoProviders } from './sso-providers.js';
import { type NameClaims, proposedUsername } from './username-from-claims.js';

/** What the provider sent back to the redirect URI, as an application passes it on (completeSso). */
export interface AuthorizationResponse {
  readonly code: string;
  readonly state: string;
  /** The `iss` parameter (RFC 9207), when the provider sent one. */
  readonly iss?: string | null;
}

/** A provider as a sign-in page lists it. */
export interface SsoProviderSummary {
  readonly name: string;
  readonly displayName: string;
}

/** The outcome of a browser callback: signed in and where to go, or why not and, when known, where to say so. */
export type BrowserCompletion =
  | { readonly ok: true; readonly signedIn: SignedIn; readonly returnTo: URL }
  | { readonly ok: false; readonly error: SsoError; readonly returnTo: URL | undefined };

/** Signs in to an account whose owner another module has proven (Accounts.signInWithProof). */
export interface ProvenSignIn {
  signInWithProof(user: UserRow, device: { readonly deviceName?: string | null; readonly client: ClientInfo }): Promise<SignedIn | undefined>;
}

export interface SingleSignOnOptions {
  readonly config: SsoConfig;
  readonly providers: SsoProviders;
  readonly pendingLogins: SsoPendingLogins;
  readonly identities: SsoIdentityStore;
  readonly users: UserStore;
  readonly accounts: ProvenSignIn;
  /** Whether a verified email address signs in (email codes are on): then it counts as a way in when unlinking. */
  readonly emailSignIn: boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly securityEvents?: SecurityEventRecorder;
}

/** The longest `sub` an ID token may have (OpenID Connect Core §2): the column's size. */
const MAX_SUBJECT_LENGTH = 255;
/** RFC 5321's longest address; a longer email claim is not kept. */
const MAX_EMAIL_LENGTH = 320;

/**
 * Single sign-on over OpenID Connect: the authorization code flow with PKCE (S256), state and
 * nonce, through openid-client, which verifies the ID token (signature against the provider's
 * keys, algorithm, issuer, audience, nonce, expiry). An identity (provider, subject) belongs to
 * one account: its first sign-in creates an account without a password, and it is linked to an
 * existing account only by that account's signed-in user, never because an email matches.
 * Once the proof is checked, the session is started like any other (Accounts.signInWithProof).
 */
export class SingleSignOn {
  readonly #options: SingleSignOnOptions;

  constructor(options: SingleSignOnOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /** The configured providers, for sign-in buttons. */
  get providers(): readonly SsoProviderSummary[] {
    return this.#options.providers.all.map(({ name, displayName }) => ({ name, displayName }));
  }

  /** The callback URL of the browser flow for a provider: the redirect URI to register with it. */
  callbackUrl(providerName: string): string {
    return `${this.#options.config.callbackBaseUrl}/auth/sso/${providerName}/callback`;
  }

  /** Starts a sign-in for an application that receives the provider's answer at `redirectUri` (completeSso). */
  startSignIn(providerName: string, redirectUri: string): Promise<URL> {
    const redirect = this.#allowedRedirect(redirectUri);
    return this.#start(this.#provider(providerName), { purpose: 'SIGN_IN', redirectUri: redirect, userId: null, returnTo: null, browserBinding: null });
  }

  /** Starts linking an identity to the signed-in user's account (linkSsoIdentity). */
  startLink(userId: string, providerName: string, redirectUri: string): Promise<URL> {
    const redirect = this.#allowedRedirect(redirectUri);
    return this.#start(this.#provider(providerName), { purpose: 'LINK', redirectUri: redirect, userId, returnTo: null, browserBinding: null });
  }

  /**
   * Starts a browser sign-in that ends at the gateway's callback and then at `returnTo`; the
   * binding is the cookie value that ties it to this browser (src/sso/browser-binding.ts).
   * BAD_USER_INPUT (field returnTo) unless returnTo is an allowed URL.
   */
  async startInBrowser(providerName: string, returnTo: string): Promise<{ authorizationUrl: URL; binding: string }> {
    const provider = this.#provider(providerName);
    const returnUrl = allowedReturnUrl(returnTo, this.#options.config.returnToOrigins);
    if (!returnUrl) throw new BadUserInputError('returnTo', 'returnTo must be a URL of an allowed origin');
    const binding = generateOpaqueToken();
    const authorizationUrl = await this.#start(provider, {
      purpose: 'BROWSER_SIGN_IN',
      redirectUri: this.callbackUrl(provider.name),
      userId: null,
      returnTo: returnUrl.href,
      browserBinding: binding,
    });
    return { authorizationUrl, binding };
  }

  /** Completes a sign-in started by startSignIn: signs in to the identity's account, created at its first sign-in. */
  async completeSignIn(providerName: string, response: AuthorizationResponse, client: ClientInfo, deviceName?: string | null): Promise<SignedIn> {
    const provider = this.#provider(providerName);
    const pending = await this.#take(provider, response.state, client, (login) => login.purpose === 'SIGN_IN');
    const proven = await this.#verify(provider, pending, responseParameters(response), { fillInIssuer: true }, client);
    return this.#signIn(provider, proven, client, deviceName);
  }

  /** Completes a browser sign-in at the gateway's callback, given the callback's query and the binding cookie. */
  async completeInBrowser(providerName: string, query: URLSearchParams, binding: string | undefined, client: ClientInfo): Promise<BrowserCompletion> {
    const provider = this.#provider(providerName);
    let returnTo: URL | undefined;
    try {
      const pending = await this.#take(provider, query.get('state') ?? '', client, (login) => {
        returnTo = login.return_to === null ? undefined : allowedReturnUrl(login.return_to, this.#options.config.returnToOrigins);
        const bound = binding !== undefined && login.browser_binding_hash !== null && constantTimeEqual(login.browser_binding_hash, hashToken(binding));
        return login.purpose === 'BROWSER_SIGN_IN' && bound && returnTo !== undefined;
      });
      const proven = await this.#verify(provider, pending, query, { fillInIssuer: false }, client);
      const signedIn = await this.#signIn(provider, proven, client);
      return { ok: true, signedIn, returnTo: returnTo! };
    } catch (error) {
      if (!(error instanceof SsoError)) throw error;
      return { ok: false, error, returnTo };
    }
  }

  /** Links the identity a startLink sign-in proved to the signed-in user's account. */
  async link(userId: string, providerName: string, response: AuthorizationResponse, client: ClientInfo): Promise<SsoIdentityRow> {
    const provider = this.#provider(providerName);
    const pending = await this.#take(provider, response.state, client, (login) => login.purpose === 'LINK' && login.user_id === userId, userId);
    const { identity } = await this.#verify(provider, pending, responseParameters(response), { fillInIssuer: true }, client, userId);
    const outcome: LinkOutcome = await this.#options.identities.linkIdentity(userId, identity, this.#options.clock.now());
    switch (outcome.kind) {
      case 'taken':
        throw this.#failed(provider, 'IDENTITY_TAKEN', client, userId);
      case 'provider_in_use':
        throw this.#failed(provider, 'ALREADY_LINKED', client, userId);
      case 'linked':
        this.#options.securityEvents?.record({ event: 'account.sso_linked', userId, reason: provider.name, client });
        return outcome.identity;
      case 'already_linked':
        return outcome.identity;
    }
  }

  /**
   * Unlinks the account's identity at a provider. NOT_FOUND when there is none; refused when the
   * account would be left with no way to sign in (no password, no other identity, no verified
   * email while email codes sign in).
   */
  async unlink(userId: string, providerName: string, client: ClientInfo): Promise<void> {
    const outcome = await this.#options.identities.unlinkIdentity(userId, providerName, { emailSignIn: this.#options.emailSignIn });
    if (outcome === 'not_found') throw new NotFoundError('Identity');
    if (outcome === 'last_sign_in_method') throw new LastSignInMethodError();
    this.#options.securityEvents?.record({ event: 'account.sso_unlinked', userId, reason: providerName, client });
  }

  /** The identities linked to an account. */
  identities(userId: string): Promise<SsoIdentityRow[]> {
    return this.#options.identities.listOfUser(userId);
  }

  #provider(name: string): SsoProviderConfig {
    const provider = this.#options.providers.get(name);
    if (!provider) throw new BadUserInputError('provider', 'Unknown sign-in provider');
    return provider;
  }

  #allowedRedirect(redirectUri: string): string {
    const url = allowedReturnUrl(redirectUri, this.#options.config.returnToOrigins);
    if (!url) throw new BadUserInputError('redirectUri', 'redirectUri must be a URL of an allowed origin');
    // The token request repeats the redirect URI without the query the provider's answer arrives
    // in (openid-client), and providers compare it exactly: a query of its own would not survive.
    if (url.search !== '' || url.hash !== '') throw new BadUserInputError('redirectUri', 'redirectUri must have no query or fragment');
    return url.href;
  }

  async #start(
    provider: SsoProviderConfig,
    login: { purpose: SsoPurpose; redirectUri: string; userId: string | null; returnTo: string | null; browserBinding: string | null },
  ): Promise<URL> {
    const configuration = await this.#options.providers.configuration(provider);
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    await this.#options.pendingLogins.save({ state, provider: provider.name, nonce, codeVerifier, ...login });
    return oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: login.redirectUri,
      scope: provider.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
  }

  /**
   * Takes the pending sign-in a state names (used up whatever follows). STATE_INVALID when there
   * is none (unknown, used, expired), or it was started for another provider, or `expected`
   * refuses it (another purpose, another account, another browser).
   */
  async #take(
    provider: SsoProviderConfig,
    state: string,
    client: ClientInfo,
    expected: (login: PendingLogin) => boolean,
    userId?: string,
  ): Promise<PendingLogin> {
    const pending = state === '' ? undefined : await this.#options.pendingLogins.take(state);
    if (!pending || pending.provider !== provider.name || !expected(pending)) throw this.#failed(provider, 'STATE_INVALID', client, userId);
    return pending;
  }

  /**
   * Exchanges the code (PKCE, state, nonce) and verifies the ID token: the identity it proves,
   * and the username its claims propose for a new account.
   */
  async #verify(
    provider: SsoProviderConfig,
    pending: PendingLogin,
    response: URLSearchParams,
    { fillInIssuer }: { fillInIssuer: boolean },
    client: ClientInfo,
    userId?: string,
  ): Promise<{ identity: ProvenIdentity; username: string }> {
    const configuration = await this.#options.providers.configuration(provider).catch((error: unknown) => {
      if (error instanceof SsoError) this.#recordFailure(provider, error.reason, client, userId);
      throw error;
    });
    const callback = new URL(pending.redirect_uri);
    for (const [name, value] of response) callback.searchParams.set(name, value);
    // An application's completeSso may not pass `iss` on. The state is bound to this provider,
    // which is what the parameter defends against (mix-up, RFC 9207 §2.4); the browser callback
    // receives it from the provider itself and must carry it.
    const metadata = configuration.serverMetadata();
    if (fillInIssuer && !callback.searchParams.has('iss') && metadata.authorization_response_iss_parameter_supported) {
      callback.searchParams.set('iss', metadata.issuer);
    }
    let claims: oidc.IDToken;
    let profile: NameClaims;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: callback.searchParams.get('state') ?? '',
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) throw new TypeError('no ID token');
      claims = idToken;
      profile = await this.#profile(provider, configuration, tokens.access_token, idToken);
    } catch (error) {
      const reason: SsoFailureReason = isProviderUnreachable(error) ? 'PROVIDER_UNAVAILABLE' : 'REJECTED';
      this.#options.logger.warn({ provider: provider.name, reason, err: describeProviderError(error) }, 'sso: sign-in not confirmed by the provider');
      throw this.#failed(provider, reason, client, userId);
    }
    if (claims.sub.length > MAX_SUBJECT_LENGTH) throw this.#failed(provider, 'REJECTED', client, userId);
    const email = typeof profile.email === 'string' && profile.email.length <= MAX_EMAIL_LENGTH ? profile.email : null;
    return { identity: { provider: provider.name, subject: claims.sub, email }, username: proposedUsername(profile) };
  }

  /**
   * The claims a username and the shown email come from: the ID token's, or, when it carries none
   * of them (providers may keep profile claims for the userinfo endpoint), the userinfo answer
   * for the same subject. A userinfo failure only costs the names.
   */
  async #profile(provider: SsoProviderConfig, configuration: oidc.Configuration, accessToken: string, idToken: oidc.IDToken): Promise<NameClaims> {
    const known = idToken.email !== undefined || idToken.preferred_username !== undefined || idToken.name !== undefined;
    if (known || !configuration.serverMetadata().userinfo_endpoint) return idToken;
    try {
      return { ...(await oidc.fetchUserInfo(configuration, accessToken, idToken.sub)), ...idToken };
    } catch (error) {
      this.#options.logger.warn({ provider: provider.name, err: describeProviderError(error) }, 'sso: userinfo failed; signing in without profile claims');
      return idToken;
    }
  }

  /** Signs in to the identity's account, creating the account at the identity's first sign-in. */
  async #signIn(
    provider: SsoProviderConfig,
    { identity, username }: { identity: ProvenIdentity; username: string },
    client: ClientInfo,
    deviceName?: string | null,
  ): Promise<SignedIn> {
    const { identities, users, accounts, clock, securityEvents } = this.#options;
    const linked = await identities.find(identity.provider, identity.subject);
    let user: UserRow | undefined;
    let created = false;
    if (linked) {
      user = await users.findById(linked.user_id);
      if (linked.email !== identity.email) await identities.updateEmail(identity);
    } else {
      ({ user, created } = await identities.createAccount(identity, username, clock.now()));
    }
    // The account was deleted (or its password changed) since it was read: start again.
    const signedIn = user && (await accounts.signInWithProof(user, { deviceName, client }));
    if (!user || !signedIn) throw this.#failed(provider, 'STATE_INVALID', client, user?.id);
    securityEvents?.record({
      event: created ? 'account.sso_registered' : 'auth.sso.succeeded',
      userId: user.id,
      username: user.username,
      sessionId: signedIn.session.id,
      reason: provider.name,
      client,
    });
    return signedIn;
  }

  #failed(provider: SsoProviderConfig, reason: SsoFailureReason, client: ClientInfo, userId?: string): SsoError {
    this.#recordFailure(provider, reason, client, userId);
    return new SsoError(reason);
  }

  #recordFailure(provider: SsoProviderConfig, reason: SsoFailureReason, client: ClientInfo, userId?: string): void {
    this.#options.securityEvents?.record({ event: 'auth.sso.failed', userId, reason: `${provider.name}:${reason}`, client });
  }
}

function responseParameters({ code, state, iss }: AuthorizationResponse): URLSearchParams {
  const parameters = new URLSearchParams({ code, state });
  if (iss) parameters.set('iss', iss);
  return parameters;
}
