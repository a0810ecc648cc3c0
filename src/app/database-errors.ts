// What a database failure means for the caller, read from the SQLSTATE or the driver's error code
// anywhere along the error's causes (MikroORM copies the driver's fields onto its own exceptions;
// node-postgres reports refused connections as AggregateErrors).

/** A transaction that lost to a concurrent one and was rolled back whole: running it again is
 * safe and will normally succeed (40P01 deadlock, 40001 serialization failure, 55P03 lock timeout). */
export function isRetryableConflict(error: unknown): boolean {
  return someCause(error, (e) => ["40P01", "40001", "55P03"].includes(codeOf(e)));
}

/**
 * The database cannot be reached or cannot take writes now: connection refused, reset or timed out
 * (or, over a unix-domain socket, the socket file gone),
 * a connection terminated under us (the server restarted: 57P01 admin shutdown, 57P02, 57P03
 * starting up), any 08xxx connection exception, or 25006 (a read-only transaction: we reached a
 * standby), or a query the server never answered (node-postgres's `query_timeout`: the connection
 * is destroyed, so a transaction on it is rolled back). The call did not happen, or was rolled back;
 * a retry after a while is the remedy.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return someCause(error, (e) => {
    const code = codeOf(e);
    if (code.startsWith("08") || ["57P01", "57P02", "57P03", "25006"].includes(code)) return true;
    if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"].includes(code)) return true;
    // A unix-domain socket whose server is down: PostgreSQL removed the socket file as it stopped.
    if (code === "ENOENT" && (e as { syscall?: unknown }).syscall === "connect") return true;
    const message = e instanceof Error ? e.message : "";
    return /Connection terminated|connection timeout|timeout exceeded when trying to connect|^timeout expired$|Client has encountered a connection error|Connection ended unexpectedly|Client was closed and is not queryable|Query read timeout/i.test(
      message,
    );
  });
}

function codeOf(error: unknown): string {
  const { code, sqlState } = (error ?? {}) as { code?: unknown; sqlState?: unknown };
  return typeof code === "string" ? code : typeof sqlState === "string" ? sqlState : "";
}

function someCause(error: unknown, test: (error: unknown) => boolean, depth = 0): boolean {
  if (error === null || error === undefined || depth > 8) return false;
  if (test(error)) return true;
  const { cause, previous, errors } = error as { cause?: unknown; previous?: unknown; errors?: unknown };
  if (someCause(cause, test, depth + 1) || someCause(previous, test, depth + 1)) return true;
  return Array.isArray(errors) && errors.some((inner) => someCause(inner, test, depth + 1));
}
