import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { FALLBACK_AUTOCHECKPOINT_PAGES } from '../src/db/wal-checkpointer.js';
import { until } from './helpers/until.js';

// SQLite only, whatever TEST_DATABASE_URL says: the checkpointer is part of the SQLite driver.
describe('background WAL checkpoints (SQLite)', () => {
  const dirs: string[] = [];
  const handles: DatabaseHandle[] = [];
  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function open(): Promise<{ handle: DatabaseHandle; path: string; errors: Error[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-wal-'));
    dirs.push(dir);
    const path = join(dir, 'gateway.sqlite');
    const errors: Error[] = [];
    const handle = connectDatabase(`sqlite:${path}`, { onCheckpointError: (error) => errors.push(error) });
    handles.push(handle);
    await migrateToLatest(handle.db);
    return { handle, path, errors };
  }

  /**
   * Commits a few hundred pages in one transaction, far below the WAL size at which the
   * gateway's own connection would checkpoint, and waits until they reach the database file:
   * only the worker can have moved them there.
   */
  async function writeAndAwaitCheckpoint(handle: DatabaseHandle, path: string): Promise<void> {
    const before = statSync(path).size;
    await handle.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 2000; i++) {
        await trx
          .insertInto('users')
          .values({ id: `user-${i}`, username: `user${i}`, username_key: `user${i}`, password_hash: 'x'.repeat(100), created_at: i, updated_at: i })
          .execute();
      }
    });
    const walPages = statSync(`${path}-wal`).size / 4096;
    expect(walPages).toBeGreaterThan(50);
    expect(walPages).toBeLessThan(FALLBACK_AUTOCHECKPOINT_PAGES);
    await until(() => statSync(path).size > before + 50 * 4096, 'the worker to checkpoint');
  }

  it('copies committed pages into the database file while the gateway’s connection never checkpoints', async () => {
    const { handle, path, errors } = await open();
    await writeAndAwaitCheckpoint(handle, path);
    expect(errors).toEqual([]);
    const { count } = await handle.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(2000);
  });

  it('closes the worker’s connection with the handle, so the last one out removes the WAL', async () => {
    const { handle, path } = await open();
    // The worker's connection is open once it has checkpointed.
    await writeAndAwaitCheckpoint(handle, path);
    expect(existsSync(`${path}-wal`)).toBe(true);
    handles.splice(handles.indexOf(handle), 1);
    await handle.close();
    // SQLite deletes the WAL when its last connection closes: had the worker's stayed open, the
    // file would still be there.
    expect(existsSync(`${path}-wal`)).toBe(false);

    const reopened = connectDatabase(`sqlite:${path}`);
    handles.push(reopened);
    expect(await reopened.db.selectFrom('users').select('username').where('id', '=', 'user-7').execute()).toEqual([{ username: 'user7' }]);
  });

  it('keeps a process with nothing else to do alive until close() has finished', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-wal-'));
    dirs.push(dir);
    // The worker does not hold the process open while it runs; a script whose last work is
    // `await close()` (npm run migrate, a seeding script) must still get past it.
    const connect = pathToFileURL(resolve('src/db/connect.ts')).href;
    const script = `import { connectDatabase } from ${JSON.stringify(connect)};
      const handle = connectDatabase(${JSON.stringify(`sqlite:${join(dir, 'gateway.sqlite')}`)});
      await handle.db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
      await handle.close();
      console.log('closed');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: child.status, stdout: child.stdout.trim() }).toEqual({ status: 0, stdout: 'closed' });
  });
});
