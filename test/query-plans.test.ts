import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { type CompiledQuery, Kysely, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ChangePasswordDocument,
  CreatePersonalAccessTokenDocument,
  DeleteAccountDocument,
  DevicesDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  PersonalAccessTokensDocument,
  RefreshDocument,
  RevokeDeviceDocument,
  ResetPasswordDocument,
  RevokePersonalAccessTokenDocument,
  SignInWithEmailCodeDocument,
  UpdateUsernameDocument,
} from '../client/src/operations.js';
import { createGatewayApp, type GatewayApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Database } from '../src/db/tables.js';
import { PASSWORD, register, signIn } from './helpers/accounts.js';
import { capturedLogger } from './helpers/captured-logger.js';
import { codeFor, FAST_ARGON2, MAIL_FROM, ROOMY_CREDENTIALS, ROOMY_REQUESTS, TRUSTED, verifiedAccount } from './helpers/email-accounts.js';
import { startSmtpServer, type TestSmtpServer } from './helpers/test-smtp-server.js';
import { GraphQLClient } from './helpers/graphql-client.js';

// SQLite plans by rules while no ANALYZE has run, and a rule can pick an index that holds every
// user's rows: the eviction of a sign-in beyond MAX_SESSIONS_PER_USER was planned through
// sessions_revoked_at_idx (revoked_at IS NULL, the live sessions of every user), about 10 ms
// of the event loop per sign-in at 100,000 live sessions. A plan is a property of the query
// text and the schema, not of timing, so this checks the plans of every statement that the
// account operations run. The gateway runs here on its own SQLite file whatever the suite's
// database, since the planner checked is SQLite's.

/** The tables that grow with the users and their sign-ins (signing_keys holds a handful of rows). */
const LARGE_TABLES = [
  'users',
  'sessions',
  'refresh_tokens',
  'personal_access_tokens',
  'deleted_credentials',
  'user_session_revocations',
  'email_codes',
  'sso_identities',
  'sso_pending_logins',
];

/**
 * Why a step of a plan reads more than the rows of the account at hand, or undefined: a scan
 * of a whole large table, or an index searched by revoked_at alone (live rows of every user).
 */
function unboundedRead(step: string): string | undefined {
  for (const table of LARGE_TABLES) {
    if (new RegExp(`^SCAN ${table}\\b`).test(step)) return `scans all of ${table}`;
    if (new RegExp(`^SEARCH ${table} USING .*\\(revoked_at=\\?\\)`).test(step)) return `reads the unrevoked rows of every user in ${table}`;
  }
  return undefined;
}

let directory: string;
let sqlite: SQLite.Database;
let app: GatewayApp;
let url: string;
let smtp: TestSmtpServer;
const queries: CompiledQuery[] = [];

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'query-plans-'));
  sqlite = new SQLite(join(directory, 'gateway.sqlite'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
    log: (event) => {
      if (event.level === 'query') queries.push(event.query);
    },
  });
  smtp = await startSmtpServer();
  const config = loadConfig({
    ...FAST_ARGON2,
    ...TRUSTED,
    ...ROOMY_CREDENTIALS,
    ...ROOMY_REQUESTS,
    SMTP_URL: smtp.url,
    MAIL_FROM,
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: `sqlite:${join(directory, 'unused.sqlite')}`,
    JWT_ISSUER: 'http://gateway.test',
    MAX_SESSIONS_PER_USER: '2',
  });
  app = await createGatewayApp({ config, logger: capturedLogger('warn').logger, database: { db, dialect: 'sqlite', close: () => db.destroy() } });
  const { port } = await app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${port}${config.graphqlPath}`;
});

afterAll(async () => {
  await app?.close();
  await app?.database.close();
  await smtp?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('query plans on SQLite', () => {
  test('scan no large table and never read every user’s live rows: account operations, email codes, retention purge', async () => {
    const gateway = { url };
    // The start's migrations and keys aside.
    queries.length = 0;
    await register(gateway, 'planner');
    const second = await signIn(gateway, 'planner');
    // Past MAX_SESSIONS_PER_USER (2): this sign-in evicts the least recently used session.
    const third = await signIn(gateway, 'planner');
    const other = await register(gateway, 'bystander');
    const created = await third.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'plans', scopes: ['profile:read'] } });
    const pat = created.data!.createPersonalAccessToken;
    const results: [string, { errors?: unknown }][] = [
      ['createPersonalAccessToken', created],
      ['me', await third.client.request(MeDocument)],
      ['me with a personal access token', await new GraphQLClient(url, { authorization: `Bearer ${pat.token}` }).request(MeDocument)],
      ['personalAccessTokens', await third.client.request(PersonalAccessTokensDocument)],
      ['revokePersonalAccessToken', await third.client.request(RevokePersonalAccessTokenDocument, { id: pat.personalAccessToken.id })],
      ['devices', await third.client.request(DevicesDocument)],
      ['refresh', await third.client.request(RefreshDocument, { refreshToken: third.refreshToken })],
      ['revokeDevice', await third.client.request(RevokeDeviceDocument, { id: second.session.id })],
      ['updateUsername', await third.client.request(UpdateUsernameDocument, { username: 'planner2' })],
      ['logoutAll', await third.client.request(LogoutAllDocument)],
      ['changePassword', await other.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: `${PASSWORD} again` })],
      ['logout', await (await signIn(gateway, 'planner2')).client.request(LogoutDocument)],
      ['deleteAccount', await (await signIn(gateway, 'planner2')).client.request(DeleteAccountDocument, { password: PASSWORD })],
    ];
    // The email codes: verification, sign-in and password reset.
    const mailer = { url, smtp };
    await verifiedAccount(mailer, 'mailer', 'mailer@example.test');
    const signInCode = await codeFor(mailer, 'mailer@example.test', 'SIGN_IN');
    results.push([
      'signInWithEmailCode',
      await new GraphQLClient(url).request(SignInWithEmailCodeDocument, { email: 'mailer@example.test', code: signInCode }),
    ]);
    const resetCode = await codeFor(mailer, 'mailer@example.test', 'RESET_PASSWORD');
    results.push([
      'resetPassword',
      await new GraphQLClient(url).request(ResetPasswordDocument, { email: 'mailer@example.test', code: resetCode, newPassword: `${PASSWORD} anew` }),
    ]);
    for (const [operation, result] of results) expect(result.errors, operation).toBeUndefined();
    // And what runs beside them: the retention purge.
    await app.services.retention.purge();

    const unbounded: string[] = [];
    const seen = new Set<string>();
    for (const query of queries) {
      if (seen.has(query.sql)) continue;
      seen.add(query.sql);
      const plan = sqlite.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as { detail: string }[];
      for (const { detail } of plan) {
        const why = unboundedRead(detail);
        if (why) unbounded.push(`${why}: ${query.sql}`);
      }
    }
    // The eviction among them, and the thirty-odd statements of the operations above.
    expect([...seen].filter((text) => /^update "sessions" set "revoked_at"/.test(text)).length).toBeGreaterThan(0);
    expect(seen.size).toBeGreaterThan(25);
    expect(unbounded).toEqual([]);
  });

  test('would catch the plan that read every user’s live sessions', () => {
    // The eviction as it was written before db/migrations/0013: this is what the check refuses.
    const plan = sqlite
      .prepare(
        `EXPLAIN QUERY PLAN update "sessions" set "revoked_at" = ? where "id" in (select "id" from "sessions" where "user_id" = ? and "revoked_at" is null order by "last_used_at" desc limit ? offset ?) and "revoked_at" is null`,
      )
      .all(1, 'someone', 100, 1) as { detail: string }[];
    expect(plan.map(({ detail }) => unboundedRead(detail)).filter(Boolean)).toEqual(['reads the unrevoked rows of every user in sessions']);
  });
});
