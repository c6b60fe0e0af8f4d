import { PASSWORD, signIn as signInAccount } from './accounts.js';
import { GraphQLClient } from './graphql-client.js';

/** One signed-in client: its session and tokens, and a GraphQL client that sends the access token. */
export interface Device {
  readonly userId: string;
  readonly sessionId: string;
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly client: GraphQLClient;
}

/** What register, login and refresh answer (BODY delivery), as far as a Device needs it. */
export interface DevicePayload {
  readonly accessToken: string;
  readonly refreshToken?: string | null;
  readonly session: { readonly id: string };
  readonly user: { readonly id: string };
}

/** The device an AuthPayload describes, talking to the gateway at `url`. */
export function deviceOf(url: string, payload: DevicePayload): Device {
  return {
    userId: payload.user.id,
    sessionId: payload.session.id,
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken!,
    client: new GraphQLClient(url, { authorization: `Bearer ${payload.accessToken}` }),
  };
}

/** Registers (or logs in) over HTTP with BODY delivery (accounts.ts signIn); fails the test on any error. */
export async function signIn(url: string, username: string, password = PASSWORD, { register = false } = {}): Promise<Device> {
  return deviceOf(url, await signInAccount({ url }, username, { password, register }));
}
