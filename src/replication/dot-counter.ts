// Hands out this node's write counters (the `counter` of each dot it creates). Counters must
// never repeat, even across crashes, or two different writes would share a dot and one would
// silently shadow the other. We lease blocks: the ceiling is persisted before any counter below
// it is used, and a restart resumes at the persisted ceiling, skipping whatever was unused.
import type { Storage } from '../env/storage.ts';

const META_KEY = 'dot-ceiling';
/** Counters per lease: one small meta commit per this many writes. */
export const DOT_LEASE_SIZE = 100_000;

function readCeiling(storage: Storage): number {
  const bytes = storage.get('meta', META_KEY);
  if (bytes === undefined) return 0;
  const value = Number(Buffer.from(bytes).toString('utf8'));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`assertion: corrupt ${META_KEY} in meta`);
  return value;
}

function ceilingWrite(value: number) {
  return { space: 'meta' as const, key: META_KEY, value: Buffer.from(String(value), 'utf8') };
}

export class DotCounter {
  /** Ceiling writes run one after another, so the persisted ceiling only ever grows. */
  private chain: Promise<void> = Promise.resolve();
  private requested: number;

  private constructor(
    private readonly storage: Storage,
    private next: number,
    /** Every counter below this is covered by a durable lease. */
    private ceiling: number,
  ) {
    this.requested = ceiling;
  }

  /** Opens the counter and durably takes the first lease before returning. */
  static async open(storage: Storage): Promise<DotCounter> {
    const start = readCeiling(storage) + 1;
    const ceiling = start + DOT_LEASE_SIZE;
    await storage.commit([ceilingWrite(ceiling)]);
    return new DotCounter(storage, start, ceiling);
  }

  /**
   * A fresh counter, at least `atLeast`. Synchronous while the lease covers it; when a context
   * carries a counter beyond the lease (e.g. copied from before a restart), it first persists a
   * lease that covers it. Renews in the background at half use.
   */
  take(atLeast: number): number | Promise<number> {
    const counter = Math.max(this.next, atLeast);
    if (!Number.isSafeInteger(counter + 2 * DOT_LEASE_SIZE)) throw new RangeError(`dot counter ${counter} is out of range`);
    this.next = counter + 1;
    if (counter >= this.ceiling) return this.persist(counter + DOT_LEASE_SIZE).then(() => counter);
    if (this.ceiling - this.next < DOT_LEASE_SIZE / 2) void this.persist(this.next + DOT_LEASE_SIZE).catch(() => {});
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
