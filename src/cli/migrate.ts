import { loadConfigOrExit } from '../config.js';
import { connectDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';

// `npm run migrate`: applies pending migrations to DATABASE_URL and reports each.
const config = loadConfigOrExit();
const handle = connectDatabase(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous });
try {
  const { results = [] } = await migrateToLatest(handle.db);
  for (const r of results) console.log(`${r.status.toLowerCase()}: ${r.migrationName}`);
  if (results.length === 0) console.log('database is up to date');
} finally {
  await handle.close();
}
