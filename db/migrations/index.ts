import type { Migration } from 'kysely';
import * as m0001 from './0001_initial.js';

/**
 * Every migration, in order. Listed here rather than read from the folder so that the same
 * set runs from TypeScript sources and from the compiled build. Never edit one that has landed.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
};
