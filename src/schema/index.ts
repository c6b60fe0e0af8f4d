import { builder } from './builder.js';
import './scalars.js';
import './user.js';
import './session.js';
import './auth.js';
import './email.js';
import './sso.js';
import './personal-access-token.js';
import './session-events.js';

/** The gateway's GraphQL schema, built from the modules above. */
export const schema = builder.toSchema();
