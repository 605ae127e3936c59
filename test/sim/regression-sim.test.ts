// Runs the fixed list of regression seeds (sim/regression-seeds.ts): each reproduced a bug of
// issue 13 (forged contexts, dot reuse after a disk wipe, removals undone, batches past the frame
// limit, malformed records from a peer, tombstone purge by the writer's clock, and three found
// along the way) with the fault model of the commit it was found on. After the fixes every one
// passes every invariant; a failure prints the invariants, the fault events and the replay command.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REGRESSION_SEEDS, replayCommand } from '../../sim/regression-seeds.ts';
import { runSimulation } from '../../sim/simulation.ts';

describe('simulation regression seeds', () => {
  for (const s of REGRESSION_SEEDS) {
    it(`${s.finding}: ${s.options.profile} seed ${s.options.seed} (caught ${s.caught.join(', ')} before the fix)`, async () => {
      const r = await runSimulation(s.options);
      const byInvariant = new Map<string, string>();
      for (const v of r.violations) if (!byInvariant.has(v.invariant)) byInvariant.set(v.invariant, v.detail);
      assert.deepEqual(
        [...byInvariant.keys()],
        [],
        `${[...byInvariant].map(([k, d]) => `${k}: ${d}`).join('\n')}\n${r.events.join('\n')}\nreplay: ${replayCommand(s)}`,
      );
    });
  }
});
