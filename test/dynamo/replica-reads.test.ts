// Shows readMergedPage against a fake front door (its readRange only): replicas' pages merge in
// key order with a key's siblings from every replica that listed it; a page reaches only as far
// as the nearest last key of a replica that has more, and its `rest` continues just after that
// key (ascending) or ends at it (descending); walking `rest` until it is undefined yields every key
// of the range exactly once, in order, whatever each replica holds and however few keys it answers
// per call (fast-check, with the answers arriving in random order); and the `enough` rules:
// atLeast, and everyRange checked against every subset of a five-node ring; a page resolves once
// enough replicas answered although another never does, and rejects with InternalServerError
// when too few could.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DynamoError } from '../../src/dynamo/errors.ts';
import { justAfter } from '../../src/dynamo/item-keys.ts';
import { atLeast, everyRange, RANGE_PAGE_KEYS, readMergedPage, type Enough, type MergedPage } from '../../src/dynamo/replica-reads.ts';
import type { NodeFrontDoor, RangeRead } from '../../src/node/front-door.ts';
import { Ring } from '../../src/ring/ring.ts';
import type { Sibling } from '../../src/version/siblings.ts';
import { EMPTY_CLOCK } from '../../src/version/vclock.ts';

const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`replica-reads.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
// Every assert.ok in a property carries a message (without one node:assert parses this file's
// source on each failure, which stalls shrinking).
const fcOptions = { seed, numRuns: 150 };

const TIMEOUT_MS = 1234;
/** Above every generated key (at most 5 characters). */
const TOP = '\uffff'.repeat(6);
const strcmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A replica's version of a key: its value names the replica, so a merged entry shows who listed it. */
function sibling(node: string, key: string): Sibling {
  return { dot: { node, counter: 1, timeMs: 0 }, context: EMPTY_CLOCK, value: Buffer.from(`${node}|${key}`), contentType: 'test' };
}
const holders = (siblings: readonly Sibling[]): string[] => siblings.map((s) => Buffer.from(s.value!).toString().split('|')[0]!).sort();

interface Replica {
  readonly keys: readonly string[];
  /** At most this many keys per answer (a peer batch filling up); RANGE_PAGE_KEYS if undefined. */
  readonly cap?: number;
}

/** A replica's honest answer: its keys in [start, end) in order, at most `limit`, and whether more follow. */
function answer(node: string, replica: Replica, start: string, end: string, limit: number, reverse: boolean): RangeRead {
  const keys = replica.keys.filter((k) => start <= k && k < end).sort(strcmp);
  if (reverse) keys.reverse();
  const n = Math.min(limit, replica.cap ?? limit);
  return { entries: keys.slice(0, n).map((key) => ({ key, siblings: [sibling(node, key)] })), more: keys.length > n };
}

interface Call {
  readonly node: string;
  readonly start: string;
  readonly end: string;
  readonly limit: number;
  readonly reverse: boolean;
  readonly timeoutMs: number;
}

/** A front door whose readRange is `read`; anything else it is asked for fails the test. */
function frontDoor(read: (node: string, start: string, end: string, limit: number, reverse: boolean) => Promise<RangeRead>, calls: Call[] = []): NodeFrontDoor {
  const front = {
    readRange(node: string, start: string, end: string, limit: number, reverse: boolean, timeoutMs: number): Promise<RangeRead> {
      calls.push({ node, start, end, limit, reverse, timeoutMs });
      return read(node, start, end, limit, reverse);
    },
  };
  return new Proxy(front, {
    get(target, name) {
      if (name in target) return target[name as keyof typeof target];
      if (name === 'then') return undefined;
      throw new Error(`readMergedPage used front.${String(name)}`);
    },
  }) as unknown as NodeFrontDoor;
}

function honestFront(replicas: ReadonlyMap<string, Replica>, calls?: Call[]): NodeFrontDoor {
  return frontDoor((node, start, end, limit, reverse) => Promise.resolve(answer(node, replicas.get(node)!, start, end, limit, reverse)), calls);
}

/** A promise and its settlers, for answers that arrive when a test says so (or never). */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const keysOf = (page: MergedPage): string[] => page.entries.map((e) => e.key);

async function rejectsUnavailable(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DynamoError, `expected a DynamoError, got ${String(e)}`);
    assert.equal(e.type, 'InternalServerError');
    assert.match(e.message, message);
    return true;
  });
}

// ---- One page ----------------------------------------------------------------------------------

describe('readMergedPage: one page', () => {
  it('asks every replica once for the range, RANGE_PAGE_KEYS keys, the direction and the timeout', async () => {
    const calls: Call[] = [];
    const replicas = new Map<string, Replica>([['a', { keys: ['k1'] }], ['b', { keys: [] }], ['c', { keys: ['k2'] }]]);
    await readMergedPage(honestFront(replicas, calls), ['a', 'b', 'c'], 'k', 'l', true, atLeast(3), TIMEOUT_MS);
    assert.deepEqual(
      calls.map((c) => c.node),
      ['a', 'b', 'c'],
    );
    for (const c of calls) assert.deepEqual({ ...c, node: '' }, { node: '', start: 'k', end: 'l', limit: RANGE_PAGE_KEYS, reverse: true, timeoutMs: TIMEOUT_MS });
  });

  it('merges in key order; a key listed by several replicas has all their siblings', async () => {
    const replicas = new Map<string, Replica>([
      ['a', { keys: ['b', 'd', 'f'] }],
      ['b', { keys: ['a', 'd', 'e'] }],
      ['c', { keys: ['d', 'f', 'g'] }],
    ]);
    const page = await readMergedPage(honestFront(replicas), ['a', 'b', 'c'], '', '\uffff', false, atLeast(3), TIMEOUT_MS);
    assert.deepEqual(keysOf(page), ['a', 'b', 'd', 'e', 'f', 'g']);
    assert.deepEqual(page.entries.map((e) => holders(e.siblings)), [['b'], ['a'], ['a', 'b', 'c'], ['b'], ['a', 'c'], ['c']]);
    assert.equal(page.rest, undefined);
    const back = await readMergedPage(honestFront(replicas), ['a', 'b', 'c'], '', '\uffff', true, atLeast(3), TIMEOUT_MS);
    assert.deepEqual(keysOf(back), ['g', 'f', 'e', 'd', 'b', 'a']);
    assert.equal(back.rest, undefined);
  });

  it('a replica with more bounds the page at its last key; `rest` starts just after it', async () => {
    // a answers 2 of its keys and has more: nothing past its last key (c) may be returned, since
    // a has not listed what it holds there; b's keys up to c are.
    const replicas = new Map<string, Replica>([
      ['a', { keys: ['a', 'c', 'e', 'g'], cap: 2 }],
      ['b', { keys: ['b', 'c', 'd', 'f'] }],
      ['x', { keys: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], cap: 4 }],
    ]);
    const page = await readMergedPage(honestFront(replicas), ['a', 'b', 'x'], '', 'z', false, atLeast(3), TIMEOUT_MS);
    assert.deepEqual(keysOf(page), ['a', 'b', 'c']);
    assert.deepEqual(page.entries.map((e) => holders(e.siblings)), [['a', 'x'], ['b', 'x'], ['a', 'b', 'x']]);
    assert.deepEqual(page.rest, { start: justAfter('c'), end: 'z' });
  });

  it('descending, the bound is the greatest last key of a replica with more, and `rest` ends at it', async () => {
    const replicas = new Map<string, Replica>([
      ['a', { keys: ['a', 'c', 'e', 'g'], cap: 2 }], // lists g, e
      ['b', { keys: ['b', 'c', 'd', 'f'], cap: 3 }], // lists f, d, c
      ['x', { keys: ['h'] }],
    ]);
    const page = await readMergedPage(honestFront(replicas), ['a', 'b', 'x'], 'a', 'z', true, atLeast(3), TIMEOUT_MS);
    assert.deepEqual(keysOf(page), ['h', 'g', 'f', 'e']);
    assert.deepEqual(page.rest, { start: 'a', end: 'e' });
  });

  it('the rest of a page is empty when the bound is the range\'s last key', async () => {
    const replicas = new Map<string, Replica>([['a', { keys: ['k'], cap: 1 }]]);
    // An `=` range: [k, justAfter(k)). A replica that says `more` after k leaves an empty rest.
    const honestButCautious = frontDoor((node, start, end, limit, reverse) => Promise.resolve({ ...answer(node, replicas.get(node)!, start, end, limit, reverse), more: true }));
    const page = await readMergedPage(honestButCautious, ['a'], 'k', justAfter('k'), false, atLeast(1), TIMEOUT_MS);
    assert.deepEqual(keysOf(page), ['k']);
    assert.deepEqual(page.rest, { start: justAfter('k'), end: justAfter('k') });
  });
});

// ---- Walking a range ---------------------------------------------------------------------------

describe('readMergedPage: walking `rest`', () => {
  const keyChar = fc.constantFrom('a', 'b', 'c', '\u0000', '\u0001', 'z', '\uffff');
  const universe = fc.oneof(
    fc.uniqueArray(fc.string({ unit: keyChar, minLength: 1, maxLength: 5 }), { maxLength: 40 }),
    // Enough keys that RANGE_PAGE_KEYS itself ends pages.
    fc.integer({ min: RANGE_PAGE_KEYS - 3, max: 2 * RANGE_PAGE_KEYS + 40 }).map((n) => Array.from({ length: n }, (_, i) => `k${String(i).padStart(4, '0')}`)),
  );
  const scenario = universe.chain((keys) =>
    fc.record({
      keys: fc.constant(keys),
      replicas: fc.array(
        fc.record({
          keys: fc.subarray(keys),
          cap: fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      bounds: fc.option(fc.tuple(fc.string({ unit: keyChar, maxLength: 3 }), fc.string({ unit: keyChar, maxLength: 3 })), { nil: undefined }),
      reverse: fc.boolean(),
    }),
  );

  it('yields every key of the range exactly once, in order, each with the siblings of every replica holding it', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.scheduler(), async (sc, s) => {
        const replicas = new Map<string, Replica>(sc.replicas.map((r, i) => [`n${i}`, r]));
        const nodes = [...replicas.keys()];
        const calls: Call[] = [];
        // Answers arrive in an order the scheduler picks.
        const front = frontDoor(
          s.scheduleFunction(async (node: string, start: string, end: string, limit: number, reverse: boolean) => answer(node, replicas.get(node)!, start, end, limit, reverse)),
          calls,
        );
        const [lo, hi] = sc.bounds === undefined ? ['', TOP] : [sc.bounds[0], sc.bounds[1]].sort(strcmp) as [string, string];
        const expected = [...new Set(sc.replicas.flatMap((r) => r.keys))].filter((k) => lo <= k && k < hi).sort(strcmp);
        if (sc.reverse) expected.reverse();
        const seen: string[] = [];
        let range: { readonly start: string; readonly end: string } | undefined = { start: lo, end: hi };
        let pages = 0;
        while (range !== undefined) {
          assert.ok(++pages <= expected.length + 2, `${pages} pages for ${expected.length} keys`);
          const page: MergedPage = await s.waitFor(readMergedPage(front, nodes, range.start, range.end, sc.reverse, atLeast(nodes.length), TIMEOUT_MS));
          for (const e of page.entries) {
            assert.ok(range.start <= e.key && e.key < range.end, `${JSON.stringify(e.key)} outside the page's range`);
            const expectedHolders = sc.replicas.flatMap((r, i) => (r.keys.includes(e.key) ? [`n${i}`] : [])).sort();
            assert.deepEqual(holders(e.siblings), expectedHolders, `siblings of ${JSON.stringify(e.key)}`);
            seen.push(e.key);
          }
          if (page.rest !== undefined) {
            assert.ok(sc.reverse ? page.rest.start === range.start && page.rest.end < range.end : page.rest.end === range.end && page.rest.start > range.start, 'rest inside the range');
          }
          range = page.rest;
        }
        assert.deepEqual(seen, expected);
        assert.ok(calls.every((c) => c.limit === RANGE_PAGE_KEYS && c.reverse === sc.reverse && c.timeoutMs === TIMEOUT_MS), 'what each replica was asked');
      }),
      fcOptions,
    );
  });

  it('with only some replicas needed, pages still go strictly in order and list only keys of answering replicas', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.scheduler(), fc.integer({ min: 1, max: 4 }), async (sc, s, need) => {
        const replicas = new Map<string, Replica>(sc.replicas.map((r, i) => [`n${i}`, r]));
        const nodes = [...replicas.keys()];
        const front = frontDoor(s.scheduleFunction(async (node: string, start: string, end: string, limit: number, reverse: boolean) => answer(node, replicas.get(node)!, start, end, limit, reverse)));
        const cmp = (a: string, b: string): number => (sc.reverse ? -strcmp(a, b) : strcmp(a, b));
        const seen: string[] = [];
        let range: { readonly start: string; readonly end: string } | undefined = { start: '', end: TOP };
        let pages = 0;
        while (range !== undefined) {
          assert.ok(++pages <= 2 * RANGE_PAGE_KEYS + 50, 'the walk ends');
          const page: MergedPage = await s.waitFor(readMergedPage(front, nodes, range.start, range.end, sc.reverse, atLeast(Math.min(need, nodes.length)), TIMEOUT_MS));
          for (const e of page.entries) {
            if (seen.length > 0) assert.ok(cmp(seen[seen.length - 1]!, e.key) < 0, `${JSON.stringify(e.key)} after ${JSON.stringify(seen[seen.length - 1])}`);
            seen.push(e.key);
            for (const h of holders(e.siblings)) assert.ok(replicas.get(h)!.keys.includes(e.key), `${h} does not hold ${JSON.stringify(e.key)}`);
          }
          range = page.rest;
        }
        // Whatever answered, nothing is skipped that every replica holds.
        const everywhere = sc.keys.filter((k) => sc.replicas.every((r) => r.keys.includes(k)));
        for (const k of everywhere) assert.ok(seen.includes(k), `${JSON.stringify(k)}, held by every replica, was skipped`);
      }),
      fcOptions,
    );
  });
});

// ---- Who must answer ---------------------------------------------------------------------------

describe('enough', () => {
  it('atLeast(count)', () => {
    assert.equal(atLeast(0)(new Set()), true);
    assert.equal(atLeast(1)(new Set()), false);
    assert.equal(atLeast(2)(new Set(['a'])), false);
    assert.equal(atLeast(2)(new Set(['a', 'b'])), true);
    assert.equal(atLeast(2)(new Set(['a', 'b', 'c'])), true);
  });

  it('everyRange(ring, n, count), for every subset of a five-node ring: count of each range\'s n replicas answered', () => {
    const ring = Ring.of(['n1', 'n2', 'n3', 'n4', 'n5']);
    const ids = ring.nodes.map((n) => n.id); // ring order
    for (const n of [1, 2, 3, 5, 7]) {
      for (const count of [1, 2, 3]) {
        const rule = everyRange(ring, n, count);
        for (let mask = 0; mask < 32; mask++) {
          const answered = new Set(ids.filter((_, i) => (mask >> i) & 1));
          // Each node's range is replicated by it and its next n-1 successors in ring order.
          const width = Math.min(n, ids.length);
          let expected = true;
          for (let i = 0; i < ids.length; i++) {
            const replicas = Array.from({ length: width }, (_, k) => ids[(i + k) % ids.length]!);
            if (replicas.filter((id) => answered.has(id)).length < Math.min(count, width)) expected = false;
          }
          assert.equal(rule(answered), expected, `n=${n} count=${count} answered=${[...answered].join(',')}`);
        }
      }
    }
    // A worked case: with N=3 and one replica per range, any two nodes two apart on the ring are enough, two neighbours are not.
    assert.equal(everyRange(ring, 3, 1)(new Set([ids[0]!, ids[3]!])), true);
    assert.equal(everyRange(ring, 3, 1)(new Set([ids[0]!, ids[1]!])), false);
  });

  it('everyRange on a one-node ring needs that node', () => {
    const ring = Ring.of(['solo']);
    assert.equal(everyRange(ring, 3, 2)(new Set(['solo'])), true);
    assert.equal(everyRange(ring, 3, 1)(new Set()), false);
  });
});

describe('readMergedPage: answering', () => {
  const one = (node: string, keys: string[]): RangeRead => ({ entries: keys.map((key) => ({ key, siblings: [sibling(node, key)] })), more: false });

  it('resolves as soon as enough replicas answered, though another never answers', { timeout: 10_000 }, async () => {
    const late = deferred<RangeRead>();
    const front = frontDoor((node) => {
      if (node === 'a') return Promise.resolve(one('a', ['k1', 'k3']));
      if (node === 'b') return new Promise<RangeRead>(() => {}); // never settles
      return late.promise;
    });
    const page = await readMergedPage(front, ['a', 'b', 'c'], '', 'z', false, atLeast(1), TIMEOUT_MS);
    assert.deepEqual(keysOf(page), ['k1', 'k3']);
    // What arrives after the page was decided changes nothing (and is not an unhandled rejection).
    late.reject(new Error('too late'));
    await late.promise.catch(() => undefined);
    assert.deepEqual(keysOf(page), ['k1', 'k3']);
  });

  it('uses only the replicas that answered before the rule held', { timeout: 10_000 }, async () => {
    const a = deferred<RangeRead>();
    const b = deferred<RangeRead>();
    const front = frontDoor((node) => (node === 'a' ? a.promise : node === 'b' ? b.promise : new Promise<RangeRead>(() => {})));
    const pending = readMergedPage(front, ['a', 'b', 'c'], '', 'z', false, atLeast(2), TIMEOUT_MS);
    b.resolve(one('b', ['k2']));
    a.resolve(one('a', ['k1', 'k2']));
    const page = await pending;
    assert.deepEqual(keysOf(page), ['k1', 'k2']);
    assert.deepEqual(holders(page.entries[1]!.siblings), ['a', 'b']);
  });

  it('resolves with everyRange once each range has a replica, though a node never answers', { timeout: 10_000 }, async () => {
    const ring = Ring.of(['n1', 'n2', 'n3', 'n4', 'n5']);
    const ids = ring.nodes.map((n) => n.id);
    const silent = new Set([ids[1]!, ids[2]!]); // two neighbours down: with N=3 every range still has a replica
    const front = frontDoor((node) => (silent.has(node) ? new Promise<RangeRead>(() => {}) : Promise.resolve(one(node, [`k-${node}`]))));
    const page = await readMergedPage(front, ids, '', 'z', false, everyRange(ring, 3, 1), TIMEOUT_MS);
    assert.ok(page.entries.length >= 1 && page.entries.length <= 3, `${page.entries.length} entries`);
    for (const e of page.entries) assert.ok(!silent.has(holders(e.siblings)[0]!), 'only answering nodes');
  });

  it('rejects with InternalServerError when too few replicas could answer', async () => {
    const front = frontDoor((node) => (node === 'a' ? Promise.resolve(one('a', ['k'])) : Promise.reject(new Error(`${node} is down`))));
    await rejectsUnavailable(readMergedPage(front, ['a', 'b', 'c'], '', 'z', false, atLeast(2), TIMEOUT_MS), /1 of 3.*b: b is down.*c: c is down/);
    // everyRange: three neighbours down leave a range without a replica.
    const ring = Ring.of(['n1', 'n2', 'n3', 'n4', 'n5']);
    const ids = ring.nodes.map((n) => n.id);
    const down = new Set([ids[1]!, ids[2]!, ids[3]!]);
    const front2 = frontDoor((node) => (down.has(node) ? Promise.reject(new Error('unreachable')) : Promise.resolve(one(node, []))));
    await rejectsUnavailable(readMergedPage(front2, ids, '', 'z', false, everyRange(ring, 3, 1), TIMEOUT_MS), /2 of 5/);
  });

  it('with no replicas to ask: resolves empty if nothing is needed, else rejects', async () => {
    const front = frontDoor(() => Promise.reject(new Error('not asked')));
    assert.deepEqual(await readMergedPage(front, [], '', 'z', false, atLeast(0), TIMEOUT_MS), { entries: [] });
    await rejectsUnavailable(readMergedPage(front, [], '', 'z', false, atLeast(1), TIMEOUT_MS), /0 of 0; none asked/);
  });

  it('a rule is asked again as each replica answers, and failures alone never satisfy it', async () => {
    const seen: number[] = [];
    const rule: Enough = (answered) => {
      seen.push(answered.size);
      return answered.size >= 1;
    };
    const front = frontDoor((node) => (node === 'c' ? Promise.resolve(one('c', ['k'])) : Promise.reject(new Error('down'))));
    const page = await readMergedPage(front, ['a', 'b', 'c'], '', 'z', false, rule, TIMEOUT_MS);
    assert.deepEqual(keysOf(page), ['k']);
    assert.deepEqual(seen, [0, 0, 1]);
  });
});
