// Waiting on a condition, never on a sleep: a predicate polled until it holds or a deadline
// passes, with the last error it threw in the timeout's message. Used by the launcher (a node
// answering /health) and by its callers (tests, bench, chaos) for anything else they wait on.

/** Thrown from a waitFor predicate to stop waiting at once (e.g. the process waited on died). */
export class GiveUp extends Error {}

/**
 * Resolves once `predicate` returns true; a predicate that throws counts as "not yet", except
 * GiveUp, which is rethrown. Throws after timeoutMs naming `what` and the last error.
 */
export async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
