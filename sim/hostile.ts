// What hostile clients and peers send in the simulator, drawn from the seed. Clients: contexts
// the cluster never issued (forged, huge or foreign counters, other keys', other clusters'). Peers: requests an authenticated
// but buggy or hostile endpoint may send (malformed records, NaN times, bad ids, bogus
// counters, membership records that could never be valid), which validators must refuse
// without crashing or bricking a node; and well-formed but forged requests (a fake member, a
// removal, a tombstone covering everything) that only an unauthenticated sender would try, which
// the transport's authentication must keep out.
import { Packr } from 'msgpackr';
import { deriveKey, insecureClusterSecret } from '../src/security/cluster-secret.ts';
import { ContextCodec, CONTEXT_CHARS_MAX, CONTEXT_MAC_BYTES } from '../src/version/context.ts';
import { EncodedRecord, encodeRecord } from '../src/version/record-codec.ts';
import type { MemberRecord } from '../src/membership/table.ts';
import type { ClockEntry, VClock } from '../src/version/vclock.ts';
import type { HostileSender } from './nemesis.ts';
import type { SeededRandom } from './seeded-random.ts';

/** Counters at or above this were never issued by the simulated cluster: finding one stored is a violation. */
export const BOGUS_COUNTER_MIN = 2 ** 40;

const pickOf = (random: SeededRandom) => <T>(xs: readonly T[]): T => xs[random.nextInt(xs.length)]!;

function clockOf(entries: ReadonlyArray<[string, number]>, timeMs: number): VClock {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const out: ClockEntry[] = [];
  for (const [node, counter] of sorted) if (out.at(-1)?.node !== node) out.push({ node, counter, timeMs });
  return out;
}

/**
 * A context string this cluster did not issue for `key`, and what kind of forgery it is (for
 * traces): clocks with huge, maximal, foreign or too many counters under a made-up MAC, a
 * genuine context of another key, one of another cluster, a truncated one, garbage, one over the
 * length bound. The node must refuse every one with BAD_CONTEXT.
 */
export function hostileContext(random: SeededRandom, ids: readonly string[], nowMs: number, key: string): { kind: string; context: string } {
  const pick = pickOf(random);
  const kind = pick(['huge', 'max', 'foreign', 'foreign-many', 'ahead', 'other-key', 'other-cluster', 'truncated', 'garbage', 'oversized'] as const);
  const plausible = clockOf(ids.map((id) => [id, 1 + random.nextInt(1_000)]), nowMs);
  switch (kind) {
    case 'huge':
      // The review's repro: 2^53 - 200002 for every node id.
      return { kind, context: withForgedMac(random, clockOf(ids.map((id) => [id, 2 ** 53 - 200_002]), nowMs)) };
    case 'max':
      return { kind, context: withForgedMac(random, clockOf([[pick(ids), Number.MAX_SAFE_INTEGER]], nowMs)) };
    case 'foreign':
      return { kind, context: withForgedMac(random, clockOf([[`zz${random.nextInt(100)}`, 1 + random.nextInt(1_000)]], nowMs)) };
    case 'foreign-many':
      // More entries than clockEntriesMax, from ids that are not members.
      return { kind, context: withForgedMac(random, clockOf(Array.from({ length: 12 + random.nextInt(20) }, (_, i) => [`x${i}`, 1 + random.nextInt(10 ** 9)]), nowMs)) };
    case 'ahead':
      // Plausible ids, counters somewhat beyond anything issued so far.
      return { kind, context: withForgedMac(random, clockOf(ids.map((id) => [id, 1_000_000 + random.nextInt(10 ** 7)]), nowMs)) };
    case 'other-key':
      return { kind, context: SIM_CONTEXTS.encode(`${key}-other`, plausible) };
    case 'other-cluster':
      return { kind, context: OTHER_CONTEXTS.encode(key, plausible) };
    case 'truncated': {
      const genuine = SIM_CONTEXTS.encode(key, plausible);
      return { kind, context: genuine.slice(0, genuine.length - 1 - random.nextInt(8)) };
    }
    case 'garbage':
      return { kind, context: pick(['not a context', '%%%%', '\u0000', '=='.repeat(10), 'a']) };
    case 'oversized':
      return { kind, context: 'A'.repeat(CONTEXT_CHARS_MAX + 1) };
  }
}

/** Contexts as the simulated cluster issues them (its secret is insecureClusterSecret('sim')). */
const SIM_CONTEXTS = new ContextCodec(deriveKey(insecureClusterSecret('sim'), 'context'));
/** Contexts of another cluster: genuine there, foreign here. */
const OTHER_CONTEXTS = new ContextCodec(deriveKey(insecureClusterSecret('another cluster'), 'context'));

/** The clock in the context wire format (msgpack, base64url) followed by MAC bytes made up by the client. */
function withForgedMac(random: SeededRandom, clock: VClock): string {
  const wire = Buffer.from(contextPackr.pack(clock.map((e) => [e.node, e.counter, e.timeMs])));
  const mac = Buffer.alloc(CONTEXT_MAC_BYTES);
  for (let i = 0; i < mac.length; i++) mac[i] = random.nextInt(256);
  return Buffer.concat([wire, mac]).toString('base64url');
}
const contextPackr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface HostileRequest {
  readonly attack: string;
  /** The sender id the endpoint uses. */
  readonly from: string;
  readonly payload: unknown;
}

/** Ids that break the id rule (src/protocol/ids.ts): empty, too long, spaces, control characters. */
const BAD_IDS = ['', 'a b', 'evil\u001b[2J', 'x'.repeat(65), 'n1\u0000evil', '../n1', 'ü-node'];
const BAD_ADDRESSES = ['not an address', 'h:99999', 'h:0', ':1', 'h:1:2', 'a b:1', 'x'.repeat(300) + ':1'];

/**
 * One request from a hostile peer. `certified` endpoints hold a certificate (as a buggy member
 * would) and send malformed or out-of-range data; `unauthenticated` ones send well-formed forged
 * requests, which must never reach a handler.
 */
export function hostilePeerRequest(
  random: SeededRandom,
  sender: HostileSender,
  ids: readonly string[],
  target: string,
  table: readonly MemberRecord[],
  nowMs: number,
  certifiedId: string,
): HostileRequest {
  const pick = pickOf(random);
  const member = table.length > 0 ? pick(table) : undefined;
  const record = (over: Record<string, unknown>): Record<string, unknown> => ({
    id: member?.id ?? pick(ids),
    peer: member?.peer ?? 'sim:1',
    http: member?.http ?? '',
    status: 'down',
    epoch: member?.epoch ?? 1,
    version: (member?.version ?? 1) + 1 + random.nextInt(5),
    changedBy: pick(ids),
    changedAtMs: nowMs,
    heartbeat: (member?.heartbeat ?? 0) + 1,
    transfer: null,
    state: 'ready',
    ...over,
  });
  if (sender === 'unauthenticated') {
    const from = pick(['intruder', ...ids]);
    const attack = pick(['fake-member', 'remove-member', 'tombstone-all', 'forward-forged'] as const);
    switch (attack) {
      case 'fake-member':
        return { attack, from, payload: { kind: 'gossip', records: [record({ id: `ghost${random.nextInt(10)}`, peer: 'sim:99', status: 'up', version: 1 })] } };
      case 'remove-member':
        return { attack, from, payload: { kind: 'gossip', records: [record({ status: 'removed', epoch: (member?.epoch ?? 1) + 1, version: (member?.version ?? 1) + 100 })] } };
      case 'tombstone-all': {
        const context = clockOf(ids.map((id) => [id, 2 ** 50]), nowMs);
        const siblings = [{ dot: { node: pick(ids), counter: 2 ** 50 + 1, timeMs: nowMs }, context, value: null, contentType: '' }];
        return { attack, from, payload: { kind: 'replica_put', key: `set-${random.nextInt(8)}`, record: EncodedRecord.of(siblings) } };
      }
      case 'forward-forged':
        return {
          attack,
          from,
          payload: { kind: 'forward_put', key: `blind-${random.nextInt(20)}`, value: Buffer.from('forged'), contentType: 'text/plain', context: clockOf(ids.map((id) => [id, 2 ** 53 - 200_002]), nowMs), w: 2 },
        };
    }
  }
  const from = pick([certifiedId, ...ids]);
  const attack = pick([
    'gossip-nan-time',
    'gossip-bad-id',
    'gossip-bad-address',
    'gossip-max-version',
    'gossip-bad-transfer',
    'gossip-garbage',
    'replica-own-dot-near-max',
    'replica-nan-time',
    'replica-bad-node',
    'replica-bogus-counter',
    'replica-corrupt-record',
    'hint-bad-owner',
    'forward-bad-quorum',
    'forward-huge-context',
    'ae-bad-level',
    'ae-unknown-range',
    'batch-bogus',
    'malformed-kind',
    'not-an-object',
  ] as const);
  const sibling = (dot: { node: string; counter: number; timeMs: number }, context: VClock = []) => ({ dot, context, value: Buffer.from('bogus'), contentType: 'text/plain' });
  const key = pick([`set-${random.nextInt(8)}`, `blind-${random.nextInt(20)}`, `hostile-${random.nextInt(4)}`]);
  switch (attack) {
    case 'gossip-nan-time':
      return { attack, from, payload: { kind: 'gossip', records: [record({ changedAtMs: NaN })] } };
    case 'gossip-bad-id':
      return { attack, from, payload: { kind: 'gossip', records: [record({ id: pick(BAD_IDS), status: 'up', version: 1 })] } };
    case 'gossip-bad-address':
      return { attack, from, payload: { kind: 'gossip', records: [record({ status: 'up', peer: pick(BAD_ADDRESSES), http: pick(['', ...BAD_ADDRESSES]) })] } };
    case 'gossip-max-version':
      return { attack, from, payload: { kind: 'gossip', records: [record({ epoch: pick([member?.epoch ?? 1, Number.MAX_SAFE_INTEGER]), version: Number.MAX_SAFE_INTEGER, heartbeat: Number.MAX_SAFE_INTEGER })] } };
    case 'gossip-bad-transfer':
      return { attack, from, payload: { kind: 'gossip', records: [record({ status: member?.status ?? 'up', version: member?.version ?? 1, heartbeat: (member?.heartbeat ?? 0) + 1_000, transfer: { keysTotal: -1, keysDone: 2 ** 60, targets: [pick(BAD_IDS)] } })] } };
    case 'gossip-garbage':
      return { attack, from, payload: { kind: 'gossip', records: [42, null, 'x', [1, 2], { id: pick(ids) }, record({ status: 'zombie' }), record({ version: -5 }), record({ changedAtMs: Infinity }), record({ epoch: NaN }), record({ epoch: -1 })] } };
    case 'replica-own-dot-near-max':
      // A dot of the target itself near 2^53: its next write there would need counter + 1.
      return { attack, from, payload: { kind: 'replica_put', key, record: EncodedRecord.of([sibling({ node: target, counter: 2 ** 53 - 10, timeMs: nowMs })]) } };
    case 'replica-nan-time':
      return { attack, from, payload: { kind: 'replica_put', key, record: EncodedRecord.received(encodeLoose([sibling({ node: pick(ids), counter: 5, timeMs: NaN })])) } };
    case 'replica-bad-node':
      return { attack, from, payload: { kind: 'replica_put', key, record: EncodedRecord.received(encodeLoose([sibling({ node: pick(BAD_IDS), counter: 5, timeMs: nowMs })])) } };
    case 'replica-bogus-counter':
      return { attack, from, payload: { kind: 'replica_put', key, record: EncodedRecord.of([sibling({ node: pick(ids), counter: 2 ** 52 + random.nextInt(1000), timeMs: nowMs }, clockOf([[pick(ids), Number.MAX_SAFE_INTEGER]], nowMs))]) } };
    case 'replica-corrupt-record':
      return { attack, from, payload: { kind: 'replica_put', key, record: EncodedRecord.received(Uint8Array.from([0x92, 0x01, 0x91, 0xc1, 0xff])) } };
    case 'hint-bad-owner':
      return { attack, from, payload: { kind: 'hint_put', owner: pick(BAD_IDS.filter((id) => id !== '')), key, record: EncodedRecord.of([sibling({ node: pick(ids), counter: 3, timeMs: nowMs })]) } };
    case 'forward-bad-quorum':
      return { attack, from, payload: { kind: 'forward_put', key, value: Buffer.from('x'), contentType: 'text/plain', context: [], w: pick([0, -1, 99, 2 ** 40]) } };
    case 'forward-huge-context':
      return { attack, from, payload: { kind: 'forward_put', key: `hostile-${random.nextInt(4)}`, value: Buffer.from('x'), contentType: 'text/plain', context: clockOf(ids.map((id) => [id, 2 ** 53 - 200_002]), nowMs), w: 2 } };
    case 'ae-bad-level':
      return { attack, from, payload: { kind: 'ae_level', range: pick(ids), level: pick([-1, 17, 1_000, 2 ** 40]), indexes: [0, 2 ** 40, 65_535] } };
    case 'ae-unknown-range':
      return { attack, from, payload: { kind: 'ae_bucket', range: pick(BAD_IDS), leaves: Array.from({ length: 100 }, (_, i) => i * 1_000) } };
    case 'batch-bogus':
      return { attack, from, payload: { kind: 'replica_put_batch', entries: [{ key, siblings: [sibling({ node: pick(ids), counter: 2 ** 53 - 1, timeMs: nowMs })] }, { key: pick(BAD_IDS), siblings: [] }] } };
    case 'malformed-kind':
      return { attack, from, payload: { kind: pick(['replica_putt', 'PING', '', 'gossip_ok']), key } };
    case 'not-an-object':
      return { attack, from, payload: pick<unknown>([null, 42, 'gossip', [1, 2, 3], true]) };
  }
}

/** Record bytes in the record format without the codec's checks (what a buggy encoder would send). */
function encodeLoose(siblings: ReadonlyArray<{ dot: { node: string; counter: number; timeMs: number }; context: VClock; value: Uint8Array | null; contentType: string }>): Uint8Array {
  return encodeRecord(siblings as never);
}
