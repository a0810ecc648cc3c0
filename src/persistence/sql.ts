// What a use case's statements need of a connection, whichever runs them: an EntityManager, a
// pipelined transaction (pipelined-transaction.ts) or a prepared-statement session (prepared.ts).

/** Runs one statement with `?` placeholders: EntityManager has the same method. */
export interface Sql {
  execute<T extends object[] = Record<string, unknown>[]>(sql: string, params?: readonly unknown[]): Promise<T>;
}

/** A statement with `?` placeholders and its parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}
