// Hands out this node's dots: the actor id that names this incarnation of the node in vector
// clocks, and the counters of the versions it creates. A dot must never repeat, even across
// crashes and lost disks, or two different writes would share it and one would silently shadow
// the other. Counters are leased in blocks (the ceiling is persisted before any counter below it
// is used, and a restart resumes at the persisted ceiling); the actor id carries an epoch created
// at first start and kept in the same store, so a node restarted on an empty disk is a new actor
// (Riak's vnode ids) and can never reissue a dot of its earlier life.
import { assert } from '../env/assert.ts';
import type { Random } from '../env/random.ts';
import type { Storage } from '../env/storage.ts';
import type { NodeId } from '../env/transport.ts';
import { actorId, EPOCH_CHARS, EPOCH_PATTERN } from '../version/actor.ts';
import { COUNTER_MAX } from '../version/vclock.ts';

export { ACTOR_SEPARATOR, actorId, nodeOfActor } from '../version/actor.ts';

const CEILING_KEY = 'dot-ceiling';
const EPOCH_KEY = 'actor-epoch';
/** Counters per lease: one small meta commit per this many writes. */
export const DOT_LEASE_SIZE = 100_000;

function readCeiling(storage: Storage): number {
  const bytes = storage.get('meta', CEILING_KEY);
  if (bytes === undefined) return 0;
  const value = Number(Buffer.from(bytes).toString('utf8'));
  if (!Number.isSafeInteger(value) || value < 0 || value + 2 * DOT_LEASE_SIZE > COUNTER_MAX) {
    throw new Error(`corrupt ${CEILING_KEY} in meta: ${JSON.stringify(Buffer.from(bytes).toString('utf8').slice(0, 40))}`);
  }
  return value;
}

function readEpoch(storage: Storage): string | undefined {
  const bytes = storage.get('meta', EPOCH_KEY);
  if (bytes === undefined) return undefined;
  const epoch = Buffer.from(bytes).toString('utf8');
  if (!EPOCH_PATTERN.test(epoch)) throw new Error(`corrupt ${EPOCH_KEY} in meta: ${JSON.stringify(epoch.slice(0, 40))}`);
  return epoch;
}

function newEpoch(random: Random): string {
  let epoch = '';
  for (let i = 0; i < EPOCH_CHARS; i++) epoch += random.nextInt(36).toString(36);
  return epoch;
}

function ceilingWrite(value: number) {
  return { space: 'meta' as const, key: CEILING_KEY, value: Buffer.from(String(value), 'utf8') };
}

export class DotCounter {
  /** Ceiling writes run one after another, so the persisted ceiling only ever grows. */
  private chain: Promise<void> = Promise.resolve();
  private requested: number;

  private constructor(
    private readonly storage: Storage,
    private readonly self: NodeId,
    private readonly random: Random,
    /** This incarnation's name in vector clocks. */
    private actorName: string,
    private next: number,
    /** Every counter below this is covered by a durable lease. */
    private ceiling: number,
  ) {
    this.requested = ceiling;
  }

  /**
   * Opens the counter for node `self` and durably takes the first lease (and, on an empty store,
   * the new epoch) before returning.
   */
  static async open(storage: Storage, self: NodeId, random: Random): Promise<DotCounter> {
    const stored = readEpoch(storage);
    const epoch = stored ?? newEpoch(random);
    const start = readCeiling(storage) + 1;
    const ceiling = start + DOT_LEASE_SIZE;
    const writes = [ceilingWrite(ceiling)];
    if (stored === undefined) writes.push({ space: 'meta', key: EPOCH_KEY, value: Buffer.from(epoch, 'utf8') });
    await storage.commit(writes);
    return new DotCounter(storage, self, random, actorId(self, epoch), start, ceiling);
  }

  /** This incarnation's name in vector clocks: `<node>#<epoch>`. */
  get actor(): string {
    return this.actorName;
  }

  /**
   * Makes this node a new actor, durably, before it returns. Called when the node discarded its
   * data (it was from an earlier membership): a version vector entry a:k promises every earlier
   * dot of a, which holds only while this node's store keeps every version it issued (or what
   * superseded it). Once they are gone, a new version under the old actor would cover, unseen,
   * old versions still on other replicas. Counters continue (a dot stays unique per node).
   */
  async rotate(random: Random): Promise<void> {
    let epoch = newEpoch(random);
    while (actorId(this.self, epoch) === this.actorName) epoch = newEpoch(random);
    await this.storage.commit([{ space: 'meta', key: EPOCH_KEY, value: Buffer.from(epoch, 'utf8') }]);
    this.actorName = actorId(this.self, epoch);
  }

  /**
   * A new actor of this node (`<node>#<fresh epoch>`, never this incarnation's own), for the
   * versions of one key it coordinates as a fallback, outside the key's preference list (see
   * Coordinator.coordinateAsFallback: the actor lives as long as its fallback record). Its dots'
   * counters come from take(), so a dot is new even if an epoch ever repeated.
   */
  freshActor(): string {
    let epoch = newEpoch(this.random);
    while (actorId(this.self, epoch) === this.actorName) epoch = newEpoch(this.random);
    return actorId(this.self, epoch);
  }

  /** The next counter this actor would issue: every counter it ever issued is below it. */
  get issuedBelow(): number {
    return this.next;
  }

  /**
   * A fresh counter. Synchronous while the lease covers it; at the edge of the lease it waits
   * for the next lease to be durable. Renews in the background at half use.
   */
  take(): number | Promise<number> {
    const counter = this.next;
    // 2^48 counters: at 100,000 writes a second, one actor would need 89 years to get there.
    assert(counter + 2 * DOT_LEASE_SIZE <= COUNTER_MAX, () => `dot counter ${counter} is out of range`);
    this.next = counter + 1;
    if (counter >= this.ceiling) return this.persist(counter + DOT_LEASE_SIZE).then(() => counter);
    // Measured against the lease already asked for (durable or in flight), so one renewal is
    // asked per half lease, not one per write while the renewal commits.
    if (this.requested - this.next < DOT_LEASE_SIZE / 2) void this.persist(this.requested + DOT_LEASE_SIZE).catch(() => {});
    return counter;
  }

  private persist(target: number): Promise<void> {
    if (target <= this.requested) return this.chain;
    this.requested = target;
    this.chain = this.chain
      .catch(() => {})
      .then(() => this.storage.commit([ceilingWrite(target)]))
      .then(
        () => {
          this.ceiling = Math.max(this.ceiling, target);
        },
        (err: unknown) => {
          this.requested = this.ceiling; // let the next take try again
          throw err;
        },
      );
    return this.chain;
  }
}
