// What one node tells another's dashboard about itself (the `activity` peer request): keys
// stored, hints held, sync and transfer state, and its last minute of client requests. The
// shape and its validator live with the protocol because the answer crosses the peer wire and
// is drawn on an operator's screen: every field is checked and bounded here, once.
import { isCount, isNodeId, isTimeMs } from './ids.ts';

/** Seconds of latency history a node reports (one mean per second). */
export const ACTIVITY_SECONDS_MAX = 60;

export interface NodeActivity {
  readonly node: string;
  readonly keys: number;
  readonly hintsHeld: number;
  readonly sync: { readonly state: 'ready' | 'syncing'; readonly pairsDone: number; readonly pairsTotal: number };
  readonly transfer: { readonly active: boolean; readonly keysSent: number; readonly keysDropped: number };
  /** Key-value operations per second, averaged over the last few seconds. */
  readonly opsPerSec: number;
  /** Mean latency of each of the last 60 seconds, oldest first (0 where idle). */
  readonly latencyMs: readonly number[];
}

type Fields = Record<string, unknown>;

function isObject(x: unknown): x is Fields {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isRate(x: unknown): x is number {
  return isTimeMs(x) && x >= 0;
}

/** A NodeActivity with exactly the known fields, or undefined if any is missing or out of range. */
export function parseNodeActivity(x: unknown): NodeActivity | undefined {
  if (!isObject(x) || !isObject(x.sync) || !isObject(x.transfer)) return undefined;
  const { sync, transfer } = x;
  if (!isNodeId(x.node) || !isCount(x.keys) || !isCount(x.hintsHeld) || !isRate(x.opsPerSec)) return undefined;
  if ((sync.state !== 'ready' && sync.state !== 'syncing') || !isCount(sync.pairsDone) || !isCount(sync.pairsTotal)) return undefined;
  if (typeof transfer.active !== 'boolean' || !isCount(transfer.keysSent) || !isCount(transfer.keysDropped)) return undefined;
  if (!Array.isArray(x.latencyMs) || x.latencyMs.length > ACTIVITY_SECONDS_MAX || !x.latencyMs.every(isRate)) return undefined;
  // Rebuilt field by field: nothing a peer added rides along to the page.
  return {
    node: x.node,
    keys: x.keys,
    hintsHeld: x.hintsHeld,
    sync: { state: sync.state, pairsDone: sync.pairsDone, pairsTotal: sync.pairsTotal },
    transfer: { active: transfer.active, keysSent: transfer.keysSent, keysDropped: transfer.keysDropped },
    opsPerSec: x.opsPerSec,
    latencyMs: [...(x.latencyMs as number[])],
  };
}
