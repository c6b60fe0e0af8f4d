import { createPrivateKey } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../config.js';

/** The claims of a token to sign, `iat` and `exp` included (the caller's clock decides them). */
export type JwtClaims = Readonly<Record<string, unknown>> & { readonly iat: number; readonly exp: number };

/** Signs a claims set as a compact JWS with one private key, its `kid` and the given `typ` header. */
export type JwtSigner = (typ: string, claims: JwtClaims) => string;

/**
 * A signer for one private key, synchronous: fast-jwt over node:crypto. jose signs through
 * WebCrypto, where every signature is a thread-pool job; on a busy server the hop (queueing,
 * waking a thread, a promise) cost several times the ES256 signature itself, and signing was
 * the largest share of a refresh (see bench/results.md, case 4). Verification stays with jose.
 */
export function createJwtSigner(privateJwk: JWK, algorithm: SigningAlgorithm, kid: string): JwtSigner {
  const key = createPrivateKey({ key: privateJwk as never, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }) as string;
  const signers = new Map<string, (claims: JwtClaims) => string>();
  return (typ, claims) => {
    let sign = signers.get(typ);
    if (sign === undefined) {
      sign = createSigner({ key, algorithm, kid, header: { alg: algorithm, typ } }) as (claims: JwtClaims) => string;
      signers.set(typ, sign);
    }
    return sign(claims);
  };
}
