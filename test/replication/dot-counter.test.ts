// The dot counter's promises (issue 13 section 4: it had no test at all): counters never repeat
// within one incarnation, across a reopen of the same store (even one that never closed, as
// after a crash), or across a lost disk, where the actor id changes instead. A counter past the
// durable lease is handed out only once the next lease is durable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../sim/seeded-random.ts';
import type { Storage, StorageWrite } from '../../src/env/storage.ts';
import { actorId, DOT_LEASE_SIZE, DotCounter, nodeOfActor } from '../../src/replication/dot-counter.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';

async function takeMany(dots: DotCounter, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await dots.take());
  return out;
}

/** Commits wait until released: shows what take() does while a lease is not yet durable. */
class HeldStorage extends MemoryStorage {
  held: Array<() => void> = [];
  hold = false;
  override commit(writes: readonly StorageWrite[]): Promise<void> {
    if (!this.hold) return super.commit(writes);
    return new Promise((resolve, reject) => this.held.push(() => super.commit(writes).then(resolve, reject)));
  }
}

class CountingStorage extends MemoryStorage {
  commits = 0;
  override commit(writes: readonly StorageWrite[]): Promise<void> {
    this.commits++;
    return super.commit(writes);
  }
}

describe('DotCounter', () => {
  it('hands out strictly increasing counters across lease renewals', async () => {
    const dots = await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(1));
    const counters = await takeMany(dots, 2 * DOT_LEASE_SIZE + 10);
    for (let i = 1; i < counters.length; i++) assert.ok(counters[i]! > counters[i - 1]!, `counter ${i} repeats or goes back`);
    assert.ok(counters[0]! >= 1);
  });

  it('never repeats a counter after a reopen, even without a clean close', async () => {
    const storage: Storage = new MemoryStorage();
    const first = await DotCounter.open(storage, 'n1', new SeededRandom(2));
    const before = await takeMany(first, DOT_LEASE_SIZE + 5);
    // The first incarnation is abandoned as a crash would leave it; a second opens the same store.
    const second = await DotCounter.open(storage, 'n1', new SeededRandom(3));
    assert.equal(second.actor, first.actor, 'the same disk is the same actor');
    const after = await takeMany(second, 10);
    assert.ok(Math.min(...after) > Math.max(...before), `reopened at ${after[0]}, but ${Math.max(...before)} was issued`);
  });

  it('is a new actor on an empty store, and names its node', async () => {
    const a = await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(4));
    const b = await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(5));
    assert.notEqual(a.actor, b.actor);
    assert.equal(nodeOfActor(a.actor), 'n1');
    assert.equal(nodeOfActor('n1'), 'n1');
    assert.match(a.actor, /^n1#[0-9a-z]{10}$/);
    assert.equal(actorId('n2', '0123456789'), 'n2#0123456789');
  });

  it('rotates to a new actor durably (after a discard), and keeps counting up', async () => {
    const storage = new MemoryStorage();
    const dots = await DotCounter.open(storage, 'n1', new SeededRandom(3));
    const before = dots.actor;
    const taken = await takeMany(dots, 5);
    await dots.rotate(new SeededRandom(3));
    assert.notEqual(dots.actor, before);
    assert.equal(nodeOfActor(dots.actor), 'n1');
    assert.ok((await dots.take()) > Math.max(...taken));
    const reopened = await DotCounter.open(storage, 'n1', new SeededRandom(4));
    assert.equal(reopened.actor, dots.actor, 'the new actor id did not survive a restart');
  });

  it('hands out a counter past its lease only once the next lease is durable', async () => {
    const storage = new HeldStorage();
    const dots = await DotCounter.open(storage, 'n1', new SeededRandom(6));
    storage.hold = true;
    // Half the lease used starts a renewal in the background; the rest of the lease is still synchronous.
    for (let i = 0; i < DOT_LEASE_SIZE; i++) assert.equal(typeof dots.take(), 'number', `take ${i} within the lease`);
    const past = dots.take();
    assert.ok(past instanceof Promise, 'the first counter past the lease waits');
    let resolved = false;
    void past.then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved, false, 'not before the lease commits');
    // Lease commits run one after another: release each as it arrives.
    while (!resolved) {
      while (storage.held.length > 0) storage.held.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await past, DOT_LEASE_SIZE + 1);
    storage.hold = false;
    const reopened = await DotCounter.open(storage, 'n1', new SeededRandom(7));
    assert.ok((await reopened.take()) > DOT_LEASE_SIZE + 1);
  });

  it('costs one durable commit per lease, renewed ahead of use, and stays synchronous', async () => {
    const storage = new CountingStorage();
    const dots = await DotCounter.open(storage, 'n1', new SeededRandom(9));
    storage.commits = 0;
    let waited = 0;
    for (let i = 0; i < 3 * DOT_LEASE_SIZE; i++) {
      const counter = dots.take();
      if (counter instanceof Promise) {
        waited++;
        await counter;
      } else if (i % 1_000 === 0) {
        await new Promise((r) => setImmediate(r)); // let background renewals commit
      }
    }
    assert.equal(waited, 0, 'renewals commit ahead of use, so no take waits');
    assert.ok(storage.commits >= 3 && storage.commits <= 4, `${storage.commits} commits for 3 leases of counters`);
  });

  it('refuses to open on a corrupt ceiling or epoch, naming it', async () => {
    for (const [key, value] of [['dot-ceiling', '9007199254740000'], ['dot-ceiling', 'x'], ['actor-epoch', 'Not An Epoch']] as const) {
      const storage = new MemoryStorage();
      await storage.commit([{ space: 'meta', key, value: Buffer.from(value) }]);
      await assert.rejects(DotCounter.open(storage, 'n1', new SeededRandom(8)), new RegExp(`corrupt ${key}`));
    }
  });
});
