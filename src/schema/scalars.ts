import { BadUserInputError } from '../errors.js';
import { builder } from './builder.js';

/** Times as ISO 8601 strings in UTC; internally epoch milliseconds. */
builder.scalarType('DateTime', {
  serialize: (value) => new Date(value).toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) throw new BadUserInputError('DateTime', 'Expected an ISO 8601 date-time string');
    return date;
  },
});
