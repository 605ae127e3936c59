// Partitioned keys (ring.ts placementText): every key of one partition sits at one ring position,
// so a DynamoDB partition lives on one preference list, while its keys spread over the Merkle
// leaves (a big partition must not make one huge bucket); other keys are placed by themselves. And the peer message that reads a range of a replica.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MerkleTree } from '../../src/antientropy/merkle-tree.ts';
import { clientKeyProblem, parsePeerReply, parsePeerRequest, TRANSFER_BATCH_KEYS_MAX } from '../../src/protocol/messages.ts';
import { md5Position, placementText, Ring, ringPosition } from '../../src/ring/ring.ts';

describe('partitioned keys', () => {
  it('keys of one partition share a position and a preference list, and spread over Merkle leaves', () => {
    const ring = Ring.of(['a', 'b', 'c', 'd', 'e']);
    const tree = new MerkleTree(10);
    const partition = '\u0000Itable/p1';
    const keys = ['', 'x', 'yy', 'z\u0001w', ...Array.from({ length: 60 }, (_, i) => `s${i}`)].map((sort) => `${partition}\u0001${sort}`);
    for (const key of keys) {
      assert.equal(placementText(key), partition);
      assert.equal(ringPosition(key), md5Position(partition));
      assert.deepEqual(ring.preferenceList(key, 3), ring.preferenceList(partition, 3));
    }
    assert.ok(new Set(keys.map((k) => tree.leafOf(k))).size > 30, 'a partition\'s keys fall in many leaves');
    // A key placed by itself: its leaf is its position's.
    for (const key of ['plain', 'other/key']) assert.equal(tree.leafOf(key), tree.leafOfPosition(ringPosition(key)));
    // Different partitions spread out.
    const spread = new Set(Array.from({ length: 64 }, (_, i) => ring.homeOf(`\u0000Itable/p${i}\u0001s`)));
    assert.ok(spread.size > 1);
  });

  it('every other key, and a reserved key without a partition end, is placed by itself', () => {
    for (const key of ['plain', 'with\u0001inside', '\u0000Tname']) {
      assert.equal(placementText(key), key);
      assert.equal(ringPosition(key), md5Position(key));
    }
  });

  it('two keys of one partition with equal records both count in the tree (no XOR cancelling)', () => {
    const tree = new MerkleTree(4);
    const record = new Uint8Array([1, 2, 3]);
    const empty = tree.root();
    tree.update('\u0000Ip\u0001a', undefined, record);
    tree.update('\u0000Ip\u0001b', undefined, record);
    assert.notEqual(tree.root(), empty);
    assert.equal(tree.keyCount(), 2);
  });

  it('/kv refuses reserved keys and keys over 1024 bytes', () => {
    assert.match(clientKeyProblem('\u0000Ix') ?? '', /reserved/);
    assert.match(clientKeyProblem('k'.repeat(1025)) ?? '', /longer than 1024/);
    assert.equal(clientKeyProblem('k'.repeat(1024)), undefined);
  });
});

describe('replica_range on the peer wire', () => {
  it('parses a well-formed request and refuses bad bounds or limits', () => {
    assert.deepEqual(parsePeerRequest({ kind: 'replica_range', start: 'a', end: 'b', limit: 5, reverse: true, extra: 1 }), { kind: 'replica_range', start: 'a', end: 'b', limit: 5, reverse: true });
    for (const limit of [0, -1, 1.5, TRANSFER_BATCH_KEYS_MAX + 1, '5', Number.NaN]) {
      assert.equal(parsePeerRequest({ kind: 'replica_range', start: 'a', end: 'b', limit, reverse: false }), undefined, String(limit));
    }
    assert.equal(parsePeerRequest({ kind: 'replica_range', start: '', end: 'b', limit: 1, reverse: false }), undefined);
    assert.equal(parsePeerRequest({ kind: 'replica_range', start: 'a', end: 'x'.repeat(2000), limit: 1, reverse: false }), undefined);
    assert.equal(parsePeerRequest({ kind: 'replica_range', start: 'a', end: 'b', limit: 1 }), undefined);
  });

  it('a reply needs a batch and a boolean', () => {
    assert.deepEqual(parsePeerReply({ kind: 'replica_range_ok', entries: [], more: false }), { kind: 'replica_range_ok', entries: [], more: false });
    assert.equal(parsePeerReply({ kind: 'replica_range_ok', entries: [], more: 'no' }), undefined);
    assert.equal(parsePeerReply({ kind: 'replica_range_ok', entries: [{ key: 'a', record: 'x' }], more: false }), undefined);
  });
});
