// Shows the seed ledger's line format (sim/ledger.ts): one tab-separated line per batch with
// date, commit, profile, seed range, duration, options, runs and result; the header is written
// once, when the file is new; failures name their seeds and invariants.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { appendLedger, LEDGER_HEADER, ledgerLine } from '../../sim/ledger.ts';

const entry = { profile: 'both', start: 500, seeds: 100, durationMs: 20_000, flags: '', runs: 200, failed: 0, failures: [] };

describe('seed ledger', () => {
  it('formats a passing and a failing batch', () => {
    const date = new Date(Date.UTC(2026, 11, 1, 12, 0, 0));
    assert.equal(ledgerLine(entry, date, 'abc123'), '2026-12-01T12:00:00Z\tabc123\tboth\t500..599\t20000\t-\t200\tpass');
    const failing = ledgerLine({ ...entry, flags: '--large on', failed: 1, failures: ['harsh 512: no-lost-writes'] }, date, 'abc123');
    assert.deepEqual(failing.split('\t').slice(5), ['--large on', '200', 'FAIL 1: harsh 512: no-lost-writes']);
  });

  it('writes the header once and appends one line per batch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynakv-ledger-'));
    try {
      const file = join(dir, 'LEDGER.tsv');
      appendLedger(file, entry, 'c1');
      appendLedger(file, { ...entry, start: 600 }, 'c2');
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      assert.equal(lines.length, 3);
      assert.equal(lines[0], LEDGER_HEADER);
      assert.match(lines[2]!, /\tc2\tboth\t600\.\.699\t/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
