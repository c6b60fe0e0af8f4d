/** The GraphQL documents the benchmarks send, as text: the load driver sends raw bodies. */

export const TYPENAME_QUERY = '{ __typename }';

export const ME_QUERY = 'query Me { me { id username } }';

/** `me` with a field of another subgraph: the gateway's own subgraph, then the orders subgraph (case 9). */
export const ME_ORDERS_QUERY = 'query MeOrders { me { id orders { id } } }';

const AUTH_PAYLOAD = 'accessToken refreshToken user { id }';

export const REGISTER_MUTATION = `mutation Register($input: RegisterInput!) { register(input: $input) { ${AUTH_PAYLOAD} } }`;

export const LOGIN_MUTATION = `mutation Login($input: LoginInput!) { login(input: $input) { ${AUTH_PAYLOAD} } }`;

export const REFRESH_MUTATION = 'mutation Refresh($refreshToken: String) { refresh(refreshToken: $refreshToken) { accessToken refreshToken } }';

export const CREATE_PERSONAL_ACCESS_TOKEN_MUTATION =
  'mutation CreatePat($input: CreatePersonalAccessTokenInput!) { createPersonalAccessToken(input: $input) { token } }';
