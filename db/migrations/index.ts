import type { Migration } from 'kysely';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_personal_access_tokens.js';
import * as m0003 from './0003_refresh_token_successor_index.js';
import * as m0004 from './0004_retention_indexes.js';
import * as m0005 from './0005_user_session_revocations.js';
import * as m0006 from './0006_refresh_token_grace_binding.js';
import * as m0007 from './0007_user_credential_version.js';
import * as m0008 from './0008_change_indexes.js';
import * as m0009 from './0009_signing_key_lifecycle.js';
import * as m0010 from './0010_drop_successor_sweep_index.js';
import * as m0011 from './0011_email_addresses.js';
import * as m0012 from './0012_single_sign_on.js';
import * as m0013 from './0013_live_sessions_index.js';
import * as m0014 from './0014_sso_pending_logins_user_index.js';

/**
 * Every migration, in order. Listed here rather than read from the folder so that the same
 * set runs from TypeScript sources and from the compiled build. Never edit one that has landed.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_personal_access_tokens': m0002,
  '0003_refresh_token_successor_index': m0003,
  '0004_retention_indexes': m0004,
  '0005_user_session_revocations': m0005,
  '0006_refresh_token_grace_binding': m0006,
  '0007_user_credential_version': m0007,
  '0008_change_indexes': m0008,
  '0009_signing_key_lifecycle': m0009,
  '0010_drop_successor_sweep_index': m0010,
  '0011_email_addresses': m0011,
  '0012_single_sign_on': m0012,
  '0013_live_sessions_index': m0013,
  '0014_sso_pending_logins_user_index': m0014,
};
