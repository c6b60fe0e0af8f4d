/** The password of the account the printed commands register (the test registers with it too). */
export const EXAMPLE_PASSWORD = 'correct horse battery staple';

/** Registers `alice`; the answer's accessToken is the credential of the next query. */
export const REGISTER_MUTATION = `mutation { register(input: { username: "alice", password: "${EXAMPLE_PASSWORD}" }) { accessToken } }`;

/** One query across the three subgraphs: the gateway's `me`, orders' `User.orders`, whoami's `whoami`. */
export const SPANNING_QUERY = '{ me { username orders { id item } } whoami { sub kind scopes } }';

/** The commands start.ts prints: register with curl, then the spanning query with the access token. */
export function tryItCommands(graphqlUrl: string): string {
  const body = (query: string) => `'${JSON.stringify({ query }).replaceAll("'", "'\\''")}'`;
  return [
    '# Register alice and keep her access token:',
    `TOKEN=$(curl -s ${graphqlUrl} -H 'content-type: application/json' -d ${body(REGISTER_MUTATION)} \\`,
    `  | sed -E 's/.*"accessToken":"([^"]+)".*/\\1/')`,
    '# One query, three subgraphs (the gateway, orders, whoami):',
    `curl -s ${graphqlUrl} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d ${body(SPANNING_QUERY)}`,
  ].join('\n');
}
