import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { SsoProviderConfig } from '../config.js';
import { SsoError } from '../errors.js';

/** How long one request to a provider (discovery, token, keys, userinfo) may take before the sign-in fails as PROVIDER_UNAVAILABLE. */
export const DEFAULT_PROVIDER_TIMEOUT_SECONDS = 10;

export interface SsoProvidersOptions {
  readonly providers: readonly SsoProviderConfig[];
  readonly logger: Logger;
  /** DEFAULT_PROVIDER_TIMEOUT_SECONDS */
  readonly timeoutSeconds?: number;
}

/**
 * The configured OpenID Providers and what openid-client discovered of each. Discovery is lazy:
 * the gateway starts whether or not a provider answers, the first sign-in with a provider reads
 * its `/.well-known/openid-configuration` (checking that it names the configured issuer), and a
 * failed discovery is forgotten, so that the next sign-in tries again. A discovered provider is
 * kept for the life of the process; its signing keys are fetched again whenever an ID token
 * names one not seen yet.
 */
export class SsoProviders {
  readonly #byName: ReadonlyMap<string, SsoProviderConfig>;
  readonly #logger: Logger;
  readonly #timeoutSeconds: number;
  readonly #configurations = new Map<string, Promise<oidc.Configuration>>();

  constructor({ providers, logger, timeoutSeconds = DEFAULT_PROVIDER_TIMEOUT_SECONDS }: SsoProvidersOptions) {
    this.#byName = new Map(providers.map((provider) => [provider.name, provider]));
    this.#logger = logger;
    this.#timeoutSeconds = timeoutSeconds;
  }

  /** Every configured provider, in SSO_PROVIDERS order. */
  get all(): readonly SsoProviderConfig[] {
    return [...this.#byName.values()];
  }

  /** The provider of that name; undefined for one not configured. */
  get(name: string): SsoProviderConfig | undefined {
    return this.#byName.get(name);
  }

  /** The provider's discovered configuration; SSO_FAILED with PROVIDER_UNAVAILABLE when discovery fails. */
  async configuration(provider: SsoProviderConfig): Promise<oidc.Configuration> {
    let discovering = this.#configurations.get(provider.name);
    if (!discovering) {
      // Concurrent sign-ins share one discovery.
      discovering = this.#discover(provider);
      this.#configurations.set(provider.name, discovering);
    }
    try {
      return await discovering;
    } catch (error) {
      if (this.#configurations.get(provider.name) === discovering) this.#configurations.delete(provider.name);
      this.#logger.warn({ provider: provider.name, err: describeProviderError(error) }, 'sso: provider discovery failed');
      throw new SsoError('PROVIDER_UNAVAILABLE');
    }
  }

  #discover(provider: SsoProviderConfig): Promise<oidc.Configuration> {
    // Plain http only where the configuration allows it (not in production, src/config.ts): a
    // provider on a developer's machine or in a test.
    const insecure = new URL(provider.issuer).protocol === 'http:';
    return oidc.discovery(new URL(provider.issuer), provider.clientId, provider.clientSecret.reveal(), undefined, {
      timeout: this.#timeoutSeconds,
      // The ID token's signature is verified against the provider's published keys too, not only
      // trusted for arriving over TLS from the token endpoint.
      execute: insecure ? [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] : [oidc.enableNonRepudiationChecks],
    });
  }
}

/**
 * True when a request to the provider failed for want of an answer (refused connection, timeout,
 * a server error) rather than because the provider refused or answered something that does not
 * verify: the first is PROVIDER_UNAVAILABLE, worth trying again; the second is REJECTED.
 */
export function isProviderUnreachable(error: unknown): boolean {
  // undici's "fetch failed", with the socket's error as its cause; openid-client's own
  // TypeErrors are misuse and carry a code instead.
  if (error instanceof TypeError) return error.cause !== undefined && !('code' in error);
  if (!(error instanceof oidc.ClientError)) return false;
  if (error.code === 'OAUTH_TIMEOUT' || error.code === 'OAUTH_ABORT') return true;
  return error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && error.cause instanceof Response && error.cause.status >= 500;
}

/**
 * What is logged of a provider's error: its class, code and message. Never the whole error: its
 * cause may hold the response, whose body can carry tokens.
 */
export function describeProviderError(error: unknown): { type: string; code?: string; oauthError?: string; message: string } {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) };
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  // The provider's own error code (invalid_grant, access_denied, ...), without its description.
  const oauthError = 'error' in error && typeof error.error === 'string' ? error.error : undefined;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return { type: error.name, ...(code ? { code } : {}), ...(oauthError ? { oauthError } : {}), message: `${error.message}${cause}` };
}
