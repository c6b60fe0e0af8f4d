import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { withCachedStatements } from '../src/db/cached-statements.js';

describe('SQLite statement cache', () => {
  const opened: { close(): void }[] = [];
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
  });

  function open(maxStatements?: number) {
    const db = withCachedStatements(new SQLite(':memory:'), maxStatements);
    opened.push(db);
    db.prepare('create table t (id integer primary key, name text)').run([]);
    return db;
  }

  it('prepares a query text once and reuses the statement with fresh parameters', () => {
    const db = open();
    const insert = db.prepare('insert into t (name) values (?)');
    insert.run(['a']);
    expect(db.prepare('insert into t (name) values (?)')).toBe(insert);
    db.prepare('insert into t (name) values (?)').run(['b']);
    expect(db.prepare('select name from t where name = ?').all(['b'])).toEqual([{ name: 'b' }]);
    expect(db.prepare('select name from t where name = ?').all(['a'])).toEqual([{ name: 'a' }]);
  });

  it('keeps at most the given number, dropping the least recently used', () => {
    const db = open(2);
    const first = db.prepare('select 1');
    const second = db.prepare('select 2');
    expect(db.prepare('select 1')).toBe(first); // used again: now the most recent
    db.prepare('select 3'); // evicts "select 2"
    expect(db.prepare('select 1')).toBe(first);
    expect(db.prepare('select 2')).not.toBe(second);
  });

  it('still answers correctly after the schema changes under a cached statement', () => {
    const db = open();
    db.prepare('insert into t (name) values (?)').run(['a']);
    const select = 'select * from t';
    expect(db.prepare(select).all([])).toEqual([{ id: 1, name: 'a' }]);
    db.prepare('alter table t add column extra text').run([]);
    expect(db.prepare(select).all([])).toEqual([{ id: 1, name: 'a', extra: null }]);
  });
});
