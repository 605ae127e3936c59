// Paging as DynamoDB pages: a page ends at Limit items evaluated (before the filter) or at 1 MB
// read, its LastEvaluatedKey is the last evaluated item's key, and no item past the page's end is
// pulled from the source. (Scan segments: test/dynamo/segments.test.ts.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { itemSizeBytes, parseItem, type Item } from '../../src/dynamo/attribute-value.ts';
import { newUsage, parseCondition, parseExpressionAttributeValues } from '../../src/dynamo/expression-parser.ts';
import { pageEnded, PAGE_START, advance, QUERY_PAGE_BYTES_MAX, readPage } from '../../src/dynamo/paging.ts';
import type { TableSchema } from '../../src/dynamo/table-schema.ts';

const schema: TableSchema = { name: 'T', hashKey: { name: 'h', type: 'S' }, rangeKey: { name: 'r', type: 'N' }, createdAtMs: 0, status: 'ACTIVE' };
const itemAt = (i: number, pad = ''): Item => parseItem({ h: { S: 'p' }, r: { N: String(i) }, even: { BOOL: i % 2 === 0 }, pad: { S: `x${pad}` } });

/** A source that counts how many items were pulled from it. */
function counted(items: readonly Item[]): { source: Iterable<Item>; pulled: () => number } {
  let pulled = 0;
  return {
    source: { *[Symbol.iterator]() { for (const item of items) { pulled++; yield item; } } },
    pulled: () => pulled,
  };
}

describe('readPage', () => {
  const items = Array.from({ length: 10 }, (_, i) => itemAt(i));
  const evenFilter = parseCondition('even = :t', { names: new Map(), values: parseExpressionAttributeValues({ ':t': { BOOL: true } }) }, newUsage());

  it('without Limit reads everything and has no LastEvaluatedKey', () => {
    const page = readPage(items, schema);
    assert.equal(page.matched.length, 10);
    assert.equal(page.scannedCount, 10);
    assert.equal(page.lastEvaluatedKey, undefined);
  });

  it('stops at Limit evaluated items, before the filter, and pulls no further', () => {
    const { source, pulled } = counted(items);
    const page = readPage(source, schema, { limit: 3, filter: evenFilter });
    assert.equal(page.scannedCount, 3);
    assert.deepEqual(page.matched.map((i) => i.get('r')), [itemAt(0).get('r'), itemAt(2).get('r')]);
    assert.deepEqual(page.lastEvaluatedKey, parseItem({ h: { S: 'p' }, r: { N: '2' } }));
    assert.equal(pulled(), 3);
  });

  it('gives a LastEvaluatedKey when Limit lands on the last item, as DynamoDB does', () => {
    const page = readPage(items, schema, { limit: 10 });
    assert.deepEqual(page.lastEvaluatedKey, parseItem({ h: { S: 'p' }, r: { N: '9' } }));
    assert.equal(readPage(items, schema, { limit: 11 }).lastEvaluatedKey, undefined);
  });

  it('stops once the items read reach the byte bound, the crossing item included', () => {
    const big = Array.from({ length: 5 }, (_, i) => itemAt(i, 'y'.repeat(300 * 1024)));
    const size = itemSizeBytes(big[0]!);
    const page = readPage(big, schema);
    assert.equal(page.scannedCount, Math.ceil(QUERY_PAGE_BYTES_MAX / size));
    assert.deepEqual(page.lastEvaluatedKey?.get('r'), big[page.scannedCount - 1]!.get('r'));
    assert.equal(readPage(items, schema, { bytesMax: 1 }).scannedCount, 1, 'every page holds at least one item');
  });

  it('pageEnded and advance state the same rule', () => {
    let p = PAGE_START;
    p = advance(p, 10);
    assert.ok(!pageEnded(p, 2));
    p = advance(p, 10);
    assert.ok(pageEnded(p, 2));
    assert.ok(pageEnded(advance(PAGE_START, QUERY_PAGE_BYTES_MAX), undefined));
    assert.ok(!pageEnded(advance(PAGE_START, QUERY_PAGE_BYTES_MAX - 1), undefined));
  });
});
