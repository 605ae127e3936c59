// The seed ledger: one tab-separated line per simulation batch (date, commit, profile, seed
// range, duration, options, runs, result), appended to a file kept in the repository
// (sim/LEDGER.tsv), so that which seed ranges passed on which commit is on record. The
// simulator's `--ledger FILE` appends the line when its batch ends.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';

export interface LedgerEntry {
  readonly profile: string;
  readonly start: number;
  readonly seeds: number;
  readonly durationMs: number;
  /** Simulation options other than the defaults, as given on the command line. */
  readonly flags: string;
  readonly runs: number;
  readonly failed: number;
  /** `profile seed: invariants` for each failed seed. */
  readonly failures: readonly string[];
}

export const LEDGER_HEADER = 'date\tcommit\tprofile\tseeds\tduration_ms\toptions\truns\tresult';

/** The current commit (with `+dirty` when the tree has changes), or `unknown` outside git. */
export function currentCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown';
  }
}

export function ledgerLine(entry: LedgerEntry, date: Date = new Date(), commit: string = currentCommit()): string {
  const result = entry.failed === 0 ? 'pass' : `FAIL ${entry.failed}: ${entry.failures.slice(0, 5).join('; ')}${entry.failures.length > 5 ? '; ...' : ''}`;
  const fields = [
    date.toISOString().slice(0, 19) + 'Z',
    commit,
    entry.profile,
    `${entry.start}..${entry.start + entry.seeds - 1}`,
    String(entry.durationMs),
    entry.flags === '' ? '-' : entry.flags,
    String(entry.runs),
    result,
  ];
  return fields.map((f) => f.replace(/[\t\n\r]/g, ' ')).join('\t');
}

/** Appends the batch's line; `commit` is the one its code was loaded from (default: the current one). */
export function appendLedger(file: string, entry: LedgerEntry, commit: string = currentCommit()): void {
  const header = existsSync(file) ? '' : `${LEDGER_HEADER}\n`;
  appendFileSync(file, `${header}${ledgerLine(entry, new Date(), commit)}\n`);
}
