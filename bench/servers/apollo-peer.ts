/**
 * The peer: what a team might build instead of the gateway. @apollo/server's standalone server
 * with a context that verifies an HS256 JWT with jsonwebtoken (the usual tutorial choice), and
 * a `me` resolver reading the user from SQLite (better-sqlite3, a prepared statement), as the
 * gateway's `me` reads its user. Prints `{"ready":true,"port":N}` once listening.
 *
 * Environment: PEER_JWT_SECRET, PEER_JWT_ISSUER, PEER_JWT_AUDIENCE, PEER_DATABASE (a SQLite file
 * path), PEER_USER_ID and PEER_USERNAME (the one user it knows).
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import SQLite from 'better-sqlite3';
import { GraphQLError } from 'graphql';
import jwt from 'jsonwebtoken';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const secret = required('PEER_JWT_SECRET');
const issuer = required('PEER_JWT_ISSUER');
const audience = required('PEER_JWT_AUDIENCE');

const sqlite = new SQLite(required('PEER_DATABASE'));
sqlite.pragma('journal_mode = WAL');
sqlite.exec('CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT NOT NULL, created_at INTEGER NOT NULL)');
sqlite.prepare('INSERT OR REPLACE INTO users (id, username, created_at) VALUES (?, ?, ?)').run(required('PEER_USER_ID'), required('PEER_USERNAME'), Date.now());
const findUser = sqlite.prepare<[string], { id: string; username: string; created_at: number }>('SELECT id, username, created_at FROM users WHERE id = ?');

interface PeerContext {
  readonly userId: string | null;
}

const unauthenticated = () => new GraphQLError('Not authenticated', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });

const server = new ApolloServer<PeerContext>({
  typeDefs: 'type User { id: ID! username: String! createdAt: String! } type Query { me: User! }',
  resolvers: {
    Query: {
      me: (_root: unknown, _args: unknown, { userId }: PeerContext) => {
        if (userId === null) throw unauthenticated();
        const user = findUser.get(userId);
        if (!user) throw unauthenticated();
        return { id: user.id, username: user.username, createdAt: new Date(user.created_at).toISOString() };
      },
    },
  },
});

const { url } = await startStandaloneServer(server, {
  listen: { port: 0, host: '127.0.0.1' },
  context: async ({ req }) => {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return { userId: null };
    try {
      const claims = jwt.verify(header.slice('Bearer '.length), secret, { algorithms: ['HS256'], issuer, audience }) as jwt.JwtPayload;
      return { userId: typeof claims.sub === 'string' ? claims.sub : null };
    } catch {
      throw unauthenticated();
    }
  },
});
process.stdout.write(`${JSON.stringify({ ready: true, port: Number(new URL(url).port) })}\n`);
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
