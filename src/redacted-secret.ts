import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret from the configuration (an SSO client secret) that no serialisation shows: JSON,
 * string conversion and util.inspect (console.log, pino's err serialiser) all print
 * "[redacted]", so a config object logged whole, by us or a dependency, leaks nothing. The
 * value is read only where it is used, through reveal().
 */
export class RedactedSecret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself, for the one call that sends it. */
  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
