// Shows that client contexts round-trip for the key they were issued for, and that everything
// else is refused with BAD_CONTEXT (the API turns that into a 400): malformed strings, a context
// of another key, one issued by another cluster, an edited one, and an unsigned clock built by
// hand. Nothing a client invents reaches the coordinator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { deriveKey, insecureClusterSecret } from '../../src/security/cluster-secret.ts';
import { ContextCodec } from '../../src/version/context.ts';

const codec = new ContextCodec(deriveKey(insecureClusterSecret('test'), 'context'));
const clock = [
  { node: 'n1#0123456789', counter: 3, timeMs: 1700000000000 },
  { node: 'n2#abcdefghij', counter: 100001, timeMs: 1700000000001 },
];

describe('context codec', () => {
  it('round-trips clocks for their key, and the empty context is the empty string', () => {
    assert.deepEqual(codec.decode('k', codec.encode('k', clock)), clock);
    assert.equal(codec.encode('k', []), '');
    assert.deepEqual(codec.decode('k', ''), []);
  });

  it('refuses malformed contexts', () => {
    for (const bad of ['%%%', 'not base64!', Buffer.from('hello').toString('base64url'), 'x'.repeat(20_000), codec.encode('k', clock) + 'AAAA', 'AA']) {
      assert.throws(() => codec.decode('k', bad), { code: 'BAD_CONTEXT' } as object, bad.slice(0, 20));
    }
  });

  it('refuses a context of another key, of another cluster, or edited', () => {
    const good = codec.encode('k', clock);
    assert.throws(() => codec.decode('other', good), { code: 'BAD_CONTEXT' } as object);
    assert.throws(() => codec.decode('k\u0000', good), { code: 'BAD_CONTEXT' } as object);
    const foreign = new ContextCodec(deriveKey(insecureClusterSecret('another'), 'context'));
    assert.throws(() => foreign.decode('k', good), { code: 'BAD_CONTEXT' } as object);
    const bytes = Buffer.from(good, 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const edited = Buffer.from(bytes);
      edited[i] = edited[i]! ^ 0x01;
      assert.throws(() => codec.decode('k', edited.toString('base64url')), { code: 'BAD_CONTEXT' } as object, `byte ${i} edited`);
    }
  });

  it('refuses a clock built by hand (what a client could forge without the key)', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const wire = Buffer.from(packr.pack([['n1', 2 ** 53 - 200_002, 1]]));
    for (const forged of [wire, Buffer.concat([wire, Buffer.alloc(16)])]) {
      assert.throws(() => codec.decode('k', forged.toString('base64url')), { code: 'BAD_CONTEXT' } as object);
    }
  });

  it('issues and accepts exactly the contexts earlier versions did (clients keep them across upgrades)', () => {
    // Computed by 99102da, before the MAC was taken as a string: a client holding a context from
    // before an upgrade must still write with it, and every node of a mixed cluster must agree.
    const fixed = new ContextCodec(Buffer.from('0123456789abcdef0123456789abcdef'));
    const withFraction = [
      { node: 'n1-abcdef', counter: 12345, timeMs: 1764000000000 },
      { node: 'n2-abcdef', counter: 99, timeMs: 1764000000001.5 },
    ];
    const issued: Array<[string, typeof withFraction, string]> = [
      ['k', withFraction, 'kpOpbjEtYWJjZGVmzTA5y0J5q2l-gAAAk6luMi1hYmNkZWZjy0J5q2l-gBgAgkK449IMc8S24_878ZIvPg'],
      ['ключ/ü', withFraction, 'kpOpbjEtYWJjZGVmzTA5y0J5q2l-gAAAk6luMi1hYmNkZWZjy0J5q2l-gBgAlU7e54YxBBNYXux6_HkoxA'],
      ['x'.repeat(1024), withFraction.slice(0, 1), 'kZOpbjEtYWJjZGVmzTA5y0J5q2l-gAAAWOfWQfti8kqcRv-dasS2Yg'],
    ];
    for (const [key, clock, context] of issued) {
      assert.equal(fixed.encode(key, clock), context, key.slice(0, 10));
      assert.deepEqual(fixed.decode(key, context), clock, key.slice(0, 10));
    }
  });
});
