/** One GraphQL error as the gateway sends it. */
export interface GraphQLErrorLike {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: Record<string, unknown>;
}

/**
 * The gateway answered with errors (or with something that is not a GraphQL response). `errors`
 * holds them as sent; `code` and `reason` are the first error's `extensions.code` and
 * `extensions.reason`, what a caller usually branches on.
 */
export class GraphQLRequestError extends Error {
  override readonly name = 'GraphQLRequestError';
  readonly errors: readonly GraphQLErrorLike[];
  /** The HTTP status of the answer. */
  readonly status: number;

  constructor(errors: readonly GraphQLErrorLike[], status: number) {
    super(errors[0]?.message ?? `The gateway answered ${status}`);
    this.errors = errors;
    this.status = status;
  }

  get code(): string | undefined {
    const code = this.errors[0]?.extensions?.code;
    return typeof code === 'string' ? code : undefined;
  }

  get reason(): string | undefined {
    const reason = this.errors[0]?.extensions?.reason;
    return typeof reason === 'string' ? reason : undefined;
  }
}

/** The `extensions.reason` of the first UNAUTHENTICATED error, or undefined. */
export function unauthenticatedReason(errors: readonly GraphQLErrorLike[] | undefined): string | undefined {
  const error = errors?.find((e) => e.extensions?.code === 'UNAUTHENTICATED');
  if (error === undefined) return undefined;
  return typeof error.extensions?.reason === 'string' ? error.extensions.reason : 'TOKEN_INVALID';
}

/** A session was needed (a realtime connection, a refresh in body mode) and the client has none. */
export class NotSignedInError extends Error {
  override readonly name = 'NotSignedInError';
  constructor() {
    super('Not signed in');
  }
}
