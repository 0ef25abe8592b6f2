/**
 * Queries built with Kysely once and compiled once per store, then run many times with new values.
 *
 * Building a query with Kysely's builder and compiling it costs more CPU than SQLite takes to run
 * it: in the SMTP accept benchmark (bench/smtp-accept.sh -C) building and compiling was 12-20% of
 * the process's time, for the same five statements per message. Kysely has no API for a query with
 * placeholders, so the query is built with a marker object in each value's place; the markers come
 * out of `compile()` as parameters, in the order the SQL uses them, and each run replaces them with
 * that run's values. The SQL text stays what Kysely wrote for the store's dialect (`?` or `$1`), and
 * node:sqlite's statement cache and PostgreSQL see the same text every time.
 *
 * Only for queries whose shape does not depend on the values (no `in (list)` of varying length, no
 * optional clauses): a shape that varies needs one prepared query per shape.
 */
import type { Compilable, CompiledQuery, DialectAdapter, Kysely, QueryResult, Transaction } from 'kysely';
import type { Database } from './tables.ts';

class Slot {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

/** Stands in for the value named `name` while the query is built; typed as the value it stands for. */
export type Bind<A> = <K extends keyof A & string>(name: K) => A[K];

export interface PreparedQuery<A, R> {
  /** Runs the query inside `q` (the store's Kysely or a transaction of it) with `args` bound. */
  execute(q: Kysely<Database> | Transaction<Database>, args: A): Promise<QueryResult<R>>;
  /** The first row, or undefined. */
  first(q: Kysely<Database> | Transaction<Database>, args: A): Promise<R | undefined>;
}

type Executor = Kysely<Database> | Transaction<Database>;

/**
 * `build` receives the Kysely (or transaction) of the first run in each dialect and `bind`; it is
 * called once per dialect. Every value that differs between runs must come from `bind(name)`; a
 * value written in directly is compiled in as a constant parameter. Defined once at module level,
 * a prepared query serves every store in the process: the compiled form is kept per dialect adapter
 * (a store and its transactions share one), so SQLite and PostgreSQL stores side by side each get
 * their own SQL.
 */
export function prepareQuery<A extends Record<string, unknown>, R>(
  build: (db: Executor, bind: Bind<A>) => Compilable<R>,
): PreparedQuery<A, R> {
  const compiledFor = new WeakMap<DialectAdapter, CompiledQuery<R>>();
  const bind = ((name: string) => new Slot(name)) as unknown as Bind<A>;

  function compiledIn(q: Executor): CompiledQuery<R> {
    const adapter = q.getExecutor().adapter;
    const known = compiledFor.get(adapter);
    if (known !== undefined) return known;
    const fresh = build(q, bind).compile();
    compiledFor.set(adapter, fresh);
    return fresh;
  }

  function withValues(q: Executor, args: A): CompiledQuery<R> {
    const c = compiledIn(q);
    const parameters = c.parameters.map((p) => {
      if (!(p instanceof Slot)) return p;
      if (!(p.name in args)) throw new Error(`prepared query: no value for ${p.name} in ${c.sql}`);
      return args[p.name];
    });
    return { query: c.query, queryId: c.queryId, sql: c.sql, parameters };
  }

  return {
    execute: async (q, args) => q.executeQuery(withValues(q, args)),
    first: async (q, args) => (await q.executeQuery(withValues(q, args))).rows[0],
  };
}
