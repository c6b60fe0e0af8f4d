import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './tables.js';

/** Stands for a parameter while the query is compiled; no value the gateway stores looks like it. */
const PLACEHOLDER_PREFIX = '\u0000prepared-query-parameter:';

/** Where each value of a compiled query comes from: a named parameter, or a constant of the query. */
type ParameterSlot = { readonly name: string } | { readonly constant: unknown };

/** A query built and compiled once, then run with new parameter values. */
export interface PreparedQuery<P extends Record<string, unknown>, R> {
  execute(executor: Kysely<Database>, parameters: P): Promise<QueryResult<R>>;
}

/**
 * Builds and compiles a query once, the first time it runs, and from then on only substitutes
 * its parameters. For the hot paths: kysely builds and compiles a query anew on every call,
 * which on a refresh cost about a fifth of its storage time. `build` gets `param(name)` to use
 * wherever a value goes (it stands in for the value while compiling), and must build the same
 * query whatever the values: a shape that depends on a value needs a query of its own.
 * Compiled once per dialect (SQLite and PostgreSQL may share a process).
 */
export function prepareQuery<P extends Record<string, unknown>, R>(
  build: (db: Kysely<Database>, param: <K extends keyof P & string>(name: K) => P[K]) => Compilable<R>,
): PreparedQuery<P, R> {
  const templates = new Map<unknown, QueryTemplate<R>>();
  return {
    async execute(executor, parameters) {
      // One adapter class per dialect; a transaction has its database's.
      const dialect = executor.getExecutor().adapter.constructor;
      let template = templates.get(dialect);
      if (!template) {
        template = compileTemplate(executor, build);
        templates.set(dialect, template);
      }
      const values = template.slots.map((slot) => ('name' in slot ? parameters[slot.name] : slot.constant));
      return executor.executeQuery<R>({ ...template.compiled, parameters: values });
    },
  };
}

interface QueryTemplate<R> {
  readonly compiled: CompiledQuery<R>;
  readonly slots: readonly ParameterSlot[];
}

function compileTemplate<P extends Record<string, unknown>, R>(
  db: Kysely<Database>,
  build: (db: Kysely<Database>, param: <K extends keyof P & string>(name: K) => P[K]) => Compilable<R>,
): QueryTemplate<R> {
  const named = new Set<string>();
  const compiled = build(db, (name) => {
    named.add(name);
    return `${PLACEHOLDER_PREFIX}${name}` as never;
  }).compile();
  // A placeholder kysely wrote into the SQL text instead of binding it would run as a literal.
  if (compiled.sql.includes(PLACEHOLDER_PREFIX)) throw new Error('prepareQuery: a parameter was inlined into the SQL');
  const slots = compiled.parameters.map((value): ParameterSlot => {
    if (typeof value === 'string' && value.startsWith(PLACEHOLDER_PREFIX)) return { name: value.slice(PLACEHOLDER_PREFIX.length) };
    return { constant: value };
  });
  for (const name of named) {
    if (!slots.some((slot) => 'name' in slot && slot.name === name)) throw new Error(`prepareQuery: parameter ${name} is not bound`);
  }
  return { compiled, slots };
}
