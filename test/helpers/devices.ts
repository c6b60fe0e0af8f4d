import { expect } from 'vitest';
import { LoginDocument, RegisterDocument } from '../../src/client/operations.js';
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

/** Registers (or logs in) over HTTP with BODY delivery; fails the test on any error. */
export async function signIn(url: string, username: string, password: string, { register = false } = {}): Promise<Device> {
  const input = { username, password, refreshTokenDelivery: 'BODY' as const };
  const anonymous = new GraphQLClient(url);
  const response = register ? await anonymous.request(RegisterDocument, { input }) : await anonymous.request(LoginDocument, { input });
  expect(response.errors).toBeUndefined();
  const data = response.data as { register?: DevicePayload; login?: DevicePayload };
  return deviceOf(url, (register ? data.register : data.login)!);
}
