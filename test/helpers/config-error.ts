import { ConfigError, loadConfig } from '../../src/config.js';

/** The ConfigError an environment causes; fails the test when it loads without one. */
export function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
