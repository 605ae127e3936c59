// Versions on the hot paths travel as record bytes (EncodedRecord, a msgpack extension): they
// must cross a real frame intact, a record that does not decode must make the whole message
// malformed (so the transport closes the connection), and a replica must store the received
// bytes verbatim exactly when its join adds nothing, so equal states keep equal bytes (Merkle).
// Batches carry records too, and are bounded by bytes as well as keys on receipt.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import {
  BATCH_ENTRY_BYTES_MAX,
  parsePeerReply,
  parsePeerRequest,
  RECORD_EXTENSION_TYPE,
  TRANSFER_BATCH_BYTES_MAX,
  TRANSFER_BATCH_KEYS_MAX,
} from '../../src/protocol/messages.ts';
import { frameBytesMaxDefault } from '../../src/transport/frame-codec.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { FrameDecoder, encodeFrame } from '../../src/transport/frame-codec.ts';
import { EncodedRecord, encodeRecord } from '../../src/version/record-codec.ts';
import type { Sibling } from '../../src/version/siblings.ts';

function sibling(node: string, counter: number, value: string | null, context: Sibling['context'] = []): Sibling {
  return { dot: { node, counter, timeMs: 1_700_000_000_000 + counter }, context, value: value === null ? null : Buffer.from(value), contentType: 'text/plain' };
}

/** Encodes like the TCP transport does and decodes like the receiving side. */
function overTheWire(message: unknown): unknown {
  const [payload, ...rest] = new FrameDecoder().push(encodeFrame(message));
  assert.equal(rest.length, 0);
  return payload;
}

describe('records on the peer wire', () => {
  it('a replica_put crosses a frame with its siblings and its exact bytes', () => {
    const siblings = [sibling('n1', 3, 'a'), sibling('n2', 1, null)];
    const record = EncodedRecord.of(siblings);
    const parsed = parsePeerRequest(overTheWire({ kind: 'replica_put', key: 'k', record }));
    assert.ok(parsed !== undefined && parsed.kind === 'replica_put');
    assert.notEqual(parsed.record, record);
    assert.deepEqual(Buffer.from(parsed.record.bytes), Buffer.from(record.bytes));
    assert.deepEqual(
      parsed.record.siblings.map((s) => [s.dot, s.value === null ? null : Buffer.from(s.value).toString()]),
      siblings.map((s) => [s.dot, s.value === null ? null : Buffer.from(s.value).toString()]),
    );
    const reply = parsePeerReply(overTheWire({ kind: 'replica_get_ok', record: EncodedRecord.of([]) }));
    assert.ok(reply !== undefined && reply.kind === 'replica_get_ok');
    assert.deepEqual(reply.record.siblings, []);
  });

  it('a record that does not decode makes the message malformed', () => {
    // A peer's own encoder: the extension with arbitrary bytes inside.
    const garbage = new Packr({ useRecords: false });
    const valid = Buffer.from(encodeRecord([sibling('n1', 1, 'a')]));
    for (const bytes of [valid, Buffer.from([0xc1]), Buffer.from([0x92, 0x07, 0x90]), encodeRecord([]).subarray(0, 2)]) {
      const ext = Buffer.concat([Buffer.from([0xc7, bytes.length, RECORD_EXTENSION_TYPE]), bytes]);
      // A three-entry map written field by field: kind, key, and record: <ext>.
      const fields = ['kind', 'replica_put', 'key', 'k', 'record'].map((x) => garbage.pack(x));
      const body = Buffer.concat([Buffer.from([0x83]), ...fields, ext]);
      const frame = Buffer.alloc(4 + body.length);
      frame.writeUInt32BE(body.length, 0);
      body.copy(frame, 4);
      const [payload] = new FrameDecoder().push(frame);
      if (bytes === valid) {
        // The control: the same construction with a good record parses.
        assert.equal(parsePeerRequest(payload)?.kind, 'replica_put');
        continue;
      }
      assert.equal(parsePeerRequest(payload), undefined, `bytes ${bytes.toString('hex')}`);
      assert.equal(parsePeerReply({ kind: 'replica_get_ok', record: (payload as { record: unknown }).record }), undefined);
    }
    assert.equal(parsePeerRequest({ kind: 'replica_put', key: 'k', record: encodeRecord([sibling('n1', 1, 'a')]) }), undefined);
  });

  it('a replica stores the received bytes when its join adds nothing, and its own encoding otherwise', async () => {
    const storage = new MemoryStorage();
    const store = new ReplicaStore(storage);
    const first = parsePeerRequest(overTheWire({ kind: 'replica_put', key: 'k', record: EncodedRecord.of([sibling('n1', 1, 'a')]) }));
    assert.ok(first?.kind === 'replica_put');
    await store.merge('k', first.record);
    assert.equal(storage.get('data', 'k')?.buffer, first.record.bytes.buffer, 'stored without re-encoding');
    // A concurrent version from another node: the join holds both, so it is encoded here.
    const concurrent = EncodedRecord.of([sibling('n2', 1, 'b')]);
    await store.merge('k', concurrent);
    const both = [sibling('n1', 1, 'a'), sibling('n2', 1, 'b')];
    assert.deepEqual(Buffer.from(storage.get('data', 'k')!), Buffer.from(encodeRecord(both)));
    assert.deepEqual(Buffer.from(store.readEncoded('k').bytes), Buffer.from(encodeRecord(both)));
    // A version that supersedes both is stored as received, and equals the sender's encoding.
    const next = EncodedRecord.of([sibling('n1', 2, 'c', [{ node: 'n1', counter: 1, timeMs: 0 }, { node: 'n2', counter: 1, timeMs: 0 }])]);
    await store.merge('k', next);
    assert.deepEqual(Buffer.from(storage.get('data', 'k')!), Buffer.from(next.bytes));
    assert.equal(store.read('k').length, 1);
  });
});

describe('batches on the peer wire', () => {
  const MiB = 1024 * 1024;
  const entry = (key: string, bytes: number) => ({ key, record: EncodedRecord.of([{ ...sibling('n1', 1, null), value: Buffer.alloc(bytes, 1) }]) });

  it('a replica_put_batch crosses a frame with each record as sent', () => {
    const entries = [entry('a', 10), { key: 'b', record: EncodedRecord.of([sibling('n1', 2, 'x'), sibling('n2', 1, null)]) }];
    const parsed = parsePeerRequest(overTheWire({ kind: 'replica_put_batch', entries }));
    assert.ok(parsed?.kind === 'replica_put_batch');
    assert.deepEqual(parsed.entries.map((e) => e.key), ['a', 'b']);
    parsed.entries.forEach((e, i) => assert.deepEqual(Buffer.from(e.record.bytes), Buffer.from(entries[i]!.record.bytes)));
    assert.equal(parsed.entries[1]!.record.siblings.length, 2);
  });

  it('refuses batches beyond the key or byte bound, but lets one large record go alone', () => {
    const put = (entries: unknown[]) => parsePeerRequest({ kind: 'replica_put_batch', entries });
    const small = Array.from({ length: TRANSFER_BATCH_KEYS_MAX }, (_, i) => entry(`k${i}`, 1));
    assert.equal(put(small)?.kind, 'replica_put_batch');
    assert.equal(put([...small, entry('one-more', 1)]), undefined, 'one key too many');
    const mib = Array.from({ length: TRANSFER_BATCH_BYTES_MAX / MiB - 1 }, (_, i) => entry(`m${i}`, MiB - 1024));
    assert.equal(put(mib)?.kind, 'replica_put_batch');
    assert.equal(put([...mib, entry('over', 2 * MiB)]), undefined, 'over TRANSFER_BATCH_BYTES_MAX');
    assert.equal(put([entry('alone', 12 * MiB)])?.kind, 'replica_put_batch', 'a single record larger than a batch');
    assert.ok(BATCH_ENTRY_BYTES_MAX < frameBytesMaxDefault);
    assert.equal(put([entry('frame', BATCH_ENTRY_BYTES_MAX)]), undefined, 'a record no frame can carry');
    // The old form (decoded siblings) and a record that does not decode are malformed.
    assert.equal(put([{ key: 'k', siblings: [sibling('n1', 1, 'a')] }]), undefined);
    assert.equal(put([{ key: 'k', record: EncodedRecord.received(Uint8Array.from([0xc1])) }]), undefined);
  });

  it("a re-added node's hand-off (stale_put_batch) carries its removal's epoch: a count, or the frame is malformed", () => {
    const entries = [entry('a', 10)];
    const parsed = parsePeerRequest(overTheWire({ kind: 'stale_put_batch', entries, removedAtEpoch: 3 }));
    assert.ok(parsed?.kind === 'stale_put_batch');
    assert.equal(parsed.removedAtEpoch, 3);
    const plain = parsePeerRequest(overTheWire({ kind: 'replica_put_batch', entries, extra: 'x' }));
    assert.deepEqual(Object.keys(plain ?? {}).sort(), ['entries', 'kind'], 'unknown fields are not passed on');
    // The version before stale_put_batch marked a plain batch: it gets the same window check.
    const older = parsePeerRequest(overTheWire({ kind: 'replica_put_batch', entries, removedAtEpoch: 3 }));
    assert.equal(older?.kind, 'stale_put_batch');
    assert.equal(parsePeerRequest({ kind: 'replica_put_batch', entries, removedAtEpoch: -1 }), undefined);
    for (const bad of [undefined, -1, 1.5, Number.NaN, 2 ** 53, '3', null]) {
      assert.equal(parsePeerRequest({ kind: 'stale_put_batch', entries, removedAtEpoch: bad }), undefined, `removedAtEpoch ${String(bad)}`);
    }
  });

  it('a replica_get_batch_ok names the keys left and those too large, within the key bound', () => {
    const reply = (fields: Record<string, unknown>) => parsePeerReply({ kind: 'replica_get_batch_ok', entries: [entry('a', 5)], left: ['b'], tooLarge: ['c'], ...fields });
    const parsed = parsePeerReply(overTheWire({ kind: 'replica_get_batch_ok', entries: [entry('a', 5)], left: ['b'], tooLarge: ['c'] }));
    assert.ok(parsed?.kind === 'replica_get_batch_ok');
    assert.deepEqual([parsed.entries[0]!.key, parsed.left, parsed.tooLarge], ['a', ['b'], ['c']]);
    assert.equal(reply({ left: undefined }), undefined);
    assert.equal(reply({ tooLarge: [''] }), undefined);
    assert.equal(reply({ left: Array.from({ length: TRANSFER_BATCH_KEYS_MAX }, (_, i) => `l${i}`) }), undefined, 'more keys than were asked for');
    assert.equal(reply({ entries: [entry('x', 6 * MiB), entry('y', 6 * MiB)] }), undefined);
  });
});

describe('hint_put names its owner by the node-id rule', () => {
  const record = EncodedRecord.of([sibling('n1', 1, 'a')]);
  for (const [what, owner] of [
    ['an ESC character', 'n\u001b[2J1'],
    ['a space', 'n 1'],
    ['65 characters', 'n'.repeat(65)],
    ['a reserved name', '__proto__'],
    ['the empty string', ''],
  ] as const) {
    it(`a hint_put whose owner has ${what} is malformed`, () => {
      assert.equal(parsePeerRequest(overTheWire({ kind: 'hint_put', owner, key: 'k', record })), undefined);
    });
  }
  it('a hint_put for a node id crosses', () => {
    assert.equal(parsePeerRequest(overTheWire({ kind: 'hint_put', owner: 'node-7.b_2', key: 'k', record }))?.kind, 'hint_put');
  });
});
