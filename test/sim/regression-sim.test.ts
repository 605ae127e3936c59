// Runs the fixed list of regression seeds (sim/regression-seeds.ts, REGRESSION_SEEDS): each one
// fails when the fix of its finding of issue 13 is reverted (forged contexts accepted, a wiped
// node reusing its dots, a removal undone by a detector flap, a key piled past the frame limit,
// tombstones purged by the writer's clock) and must pass every invariant with it. A failure
// prints the invariants, the fault events and the replay command. The seeds of bugs still open
// (OPEN_BUG_SEEDS) are run by `npm run sim -- --regression`, not here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REGRESSION_SEEDS, replayCommand } from '../../sim/regression-seeds.ts';
import { runSimulation } from '../../sim/simulation.ts';

describe('simulation regression seeds', () => {
  for (const s of REGRESSION_SEEDS) {
    it(`${s.options.profile} seed ${s.options.seed}: finding ${s.finding} (without the fix: ${s.caught.join(', ')})`, async () => {
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
