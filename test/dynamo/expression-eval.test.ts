// Evaluation against items, as DynamoDB answers: conditions (missing operands, mixed types,
// every function), updates (arithmetic through decimal.ts, sets, lists, if_not_exists, paths
// that are invalid for update, key attributes, UPDATED_OLD/NEW) and projections. Items are
// built from wire JSON, so prototype names travel through the real parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ITEM_BYTES_MAX, itemToWire, parseItem, type Item } from '../../src/dynamo/attribute-value.ts';
import { DynamoError } from '../../src/dynamo/errors.ts';
import { applyUpdate, CONDITION_ELEMENTS_VISITED_MAX, evaluateCondition, getPath, project } from '../../src/dynamo/expression-eval.ts';
import { newUsage, parseCondition, parseExpressionAttributeNames, parseExpressionAttributeValues, parseProjection, parseUpdate, type ExpressionParams } from '../../src/dynamo/expression-parser.ts';

const params: ExpressionParams = {
  names: parseExpressionAttributeNames({ '#p': '__proto__', '#k': 'pk' }),
  values: parseExpressionAttributeValues({
    ':1': { N: '1' }, ':5': { N: '5' }, ':10': { N: '10' }, ':s': { S: 'he' }, ':hello': { S: 'hello' }, ':b': { B: 'AQ==' },
    ':l': { L: [{ S: 'z' }] }, ':ss': { SS: ['a', 'c'] }, ':ns': { NS: ['2', '3'] }, ':tS': { S: 'S' }, ':tL': { S: 'L' }, ':dec': { N: '0.1' },
  }),
};

const base: Item = parseItem(JSON.parse(`{
  "pk": {"S": "k"}, "n": {"N": "5"}, "s": {"S": "hello"}, "b": {"B": "AQID"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
  "l": {"L": [{"S": "x"}, {"N": "1"}, {"S": "y"}]}, "m": {"M": {"inner": {"N": "7"}, "list": {"L": []}}}, "__proto__": {"S": "proto"},
  "nul": {"NULL": true}, "t": {"BOOL": true}
}`));

// Explicit `item` arguments (no defaults): passing undefined must mean "no item", not `base`.
const holdsOn = (item: Item | undefined, text: string) => evaluateCondition(parseCondition(text, params, newUsage()), item);
const holds = (text: string) => holdsOn(base, text);
const updateOn = (item: Item | undefined, text: string) => applyUpdate(item, parseUpdate(text, params, newUsage()), ['pk']);
const update = (text: string) => updateOn(base, text);
const wire = (item: Item) => JSON.parse(JSON.stringify(itemToWire(item))) as unknown;

function refused(f: () => unknown, message: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, String(e));
    assert.equal(e.type, 'ValidationException');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('evaluateCondition', () => {
  it('compares numbers numerically, strings and binaries bytewise', () => {
    for (const t of ['n = :5', 'n < :10', 'n <= :5', 'n > :1', 'n >= :5', 'n BETWEEN :1 AND :10', 's > :s', 'n IN (:1, :5)', 'b > :b']) assert.ok(holds(t), t);
    for (const t of ['n = :1', 'n < :5', 'n > :10', 'n BETWEEN :1 AND :1', 's < :s', 'n IN (:1, :10)']) assert.ok(!holds(t), t);
  });

  it('treats a missing operand as false, except <> which is true', () => {
    for (const t of ['missing = :1', 'missing < :1', 'missing >= :1', 'missing BETWEEN :1 AND :5', 'missing IN (:1)', 'begins_with(missing, :s)', 'contains(missing, :s)', 'attribute_type(missing, :tS)', 'size(missing) = :1', 'm.nope = :1', 'l[9] = :1', 's.x = :1', 'n[0] = :1']) {
      assert.equal(holds(t), false, t);
    }
    assert.equal(holds('missing <> :1'), true);
    assert.equal(holds('attribute_not_exists(missing)'), true);
    assert.equal(holdsOn(undefined, 'attribute_exists(n)'), false, 'no item: every path is missing');
    assert.equal(holdsOn(undefined, 'attribute_not_exists(pk)'), true);
  });

  it('answers false for mixed types in order comparisons and unequal for =', () => {
    assert.equal(holds('s < :5'), false);
    assert.equal(holds('s = :5'), false);
    assert.equal(holds('s <> :5'), true);
  });

  it('evaluates functions as DynamoDB documents them', () => {
    for (const t of [
      'attribute_exists(m.inner)', 'attribute_exists(l[2])', 'attribute_exists(#p)', 'attribute_type(s, :tS)', 'attribute_type(l, :tL)',
      'begins_with(s, :s)', 'contains(s, :s)', 'contains(l, :1)', 'contains(ns, :1)', 'size(s) = :5', 'size(l) > :1', 'size(m) < :5',
      'size(b) BETWEEN :1 AND :5', 'NOT contains(ss, :s)', 'm.inner > n AND (s = :hello OR n = :10)',
    ]) assert.ok(holds(t), t);
    for (const t of ['attribute_type(s, :tL)', 'begins_with(n, :s)', 'contains(ns, :s)', 'size(n) > :1', 'size(t) > :1', 'begins_with(s, :hello) AND n = :1']) {
      assert.equal(holds(t), false, t);
    }
  });
});

describe('evaluateCondition on large items', () => {
  const bigList = parseItem({ pk: { S: 'k' }, l: { L: Array.from({ length: 190_000 }, () => ({ S: 'y' })) } });
  const p6: ExpressionParams = {
    names: new Map(),
    values: parseExpressionAttributeValues({ ':s': { S: 'x' }, ':n': { S: 'y' }, ':big': { L: Array.from({ length: 190_000 }, () => ({ S: 'y' })) } }),
  };
  const ored = (n: number, term: string) => parseCondition(Array.from({ length: n }, () => term).join(' OR '), p6, newUsage(), 'FilterExpression');

  it(`refuses a condition that would visit more than ${CONDITION_ELEMENTS_VISITED_MAX} elements, quickly`, () => {
    const started = performance.now();
    refused(() => evaluateCondition(ored(150, 'contains(l, :s)'), bigList), /^The expression is too expensive to evaluate/);
    const elapsed = performance.now() - started;
    // A guard, not a benchmark: the 150 scans of 190,000 elements took 2.2 s.
    assert.ok(elapsed < 5_000, `took ${elapsed.toFixed(0)} ms`);
  });

  it('evaluates a few operators over the largest lists as before', () => {
    assert.equal(evaluateCondition(ored(5, 'contains(l, :s)'), bigList), false);
    assert.equal(evaluateCondition(ored(5, 'contains(l, :n)'), bigList), true);
    assert.equal(evaluateCondition(parseCondition('l = :big AND l[189999] = :n AND NOT contains(l, :s)', p6, newUsage()), bigList), true);
  });
});

describe('applyUpdate', () => {
  it('SETs values, arithmetic exactly, if_not_exists and list_append, reading the old item', () => {
    const r = update('SET n = n + :dec, fresh = if_not_exists(fresh, :10), s = if_not_exists(s, :10), l = list_append(l, :l), x = n - :10, sw = s');
    assert.deepEqual(wire(r.item), {
      ...(wire(base) as object), n: { N: '5.1' }, fresh: { N: '10' }, l: { L: [{ S: 'x' }, { N: '1' }, { S: 'y' }, { S: 'z' }] }, x: { N: '-5' }, sw: { S: 'hello' },
    });
    assert.deepEqual(wire(r.updatedOld), { n: { N: '5' }, s: { S: 'hello' }, l: (wire(base) as { l: unknown }).l });
    assert.deepEqual(Object.keys(wire(r.updatedNew) as object).sort(), ['fresh', 'l', 'n', 's', 'sw', 'x']);
    assert.equal(getPath(base, [{ kind: 'name', name: 'n' }])?.type, 'N', 'the input item is untouched');
    refused(() => updateOn(new Map(), 'SET a = :1, b = a'), /refers to an attribute that does not exist/);
  });

  it('SETs nested paths, appends past a list end, creates new items', () => {
    const r = update('SET m.inner = :1, m.added = :s, l[1] = :5, l[10] = :10, m.list[0] = :1');
    assert.deepEqual(wire(r.item), { ...(wire(base) as object),
      m: { M: { inner: { N: '1' }, list: { L: [{ N: '1' }] }, added: { S: 'he' } } },
      l: { L: [{ S: 'x' }, { N: '5' }, { S: 'y' }, { N: '10' }] },
    });
    assert.deepEqual(wire(updateOn(undefined, 'SET a = :1').item), { a: { N: '1' } });
    assert.deepEqual(wire(updateOn(undefined, 'SET #p = :1').item), JSON.parse('{"__proto__":{"N":"1"}}'));
  });

  it('REMOVEs attributes, map keys and list elements by their original index', () => {
    const r = update('REMOVE n, m.inner, l[0], l[2], missing, l[9], m.nope');
    const w = wire(r.item) as Record<string, unknown>;
    assert.equal(w['n'], undefined);
    assert.deepEqual(w['m'], { M: { list: { L: [] } } });
    assert.deepEqual(w['l'], { L: [{ N: '1' }] });
    assert.deepEqual(wire(r.updatedNew), {}, 'removed paths are not reported as new values');
    assert.deepEqual(wire(r.updatedOld), { n: { N: '5' }, m: { M: { inner: { N: '7' } } }, l: { L: [{ S: 'x' }, { S: 'y' }] } });
  });

  it('ADDs to numbers and sets, creating them when missing; DELETEs from sets, removing emptied ones', () => {
    const r = update('ADD n :dec, ss :ss, ns :ns, newn :5, newss :ss DELETE ns2 :ns');
    const w = wire(r.item) as Record<string, { SS?: string[]; NS?: string[]; N?: string }>;
    assert.equal(w['n']?.N, '5.1');
    assert.deepEqual(w['ss']?.SS, ['a', 'b', 'c']);
    assert.deepEqual(w['ns']?.NS, ['1', '2', '3']);
    assert.equal(w['newn']?.N, '5');
    assert.deepEqual(w['newss']?.SS, ['a', 'c']);
    const d = wire(update('DELETE ss :ss').item) as Record<string, { SS?: string[] }>;
    assert.deepEqual(d['ss']?.SS, ['b']);
    const gone = wire(updateOn(update('DELETE ss :ss').item, 'DELETE ss :ss').item) as Record<string, unknown>;
    assert.deepEqual(gone['ss'], { SS: ['b'] });
    const emptied = wire(updateOn(update('ADD ns :ns').item, 'DELETE ns :ns').item) as Record<string, unknown>;
    assert.deepEqual(emptied['ns'], { NS: ['1'] });
    const all = applyUpdate(base, parseUpdate('DELETE ss :ss2', { names: new Map(), values: parseExpressionAttributeValues({ ':ss2': { SS: ['a', 'b'] } }) }, newUsage()), []);
    assert.equal(all.item.has('ss'), false, 'a set emptied by DELETE is removed');
  });

  it('refuses type mismatches, missing operands and invalid paths with DynamoDB\'s messages', () => {
    const incorrect = 'An operand in the update expression has an incorrect data type';
    for (const t of ['SET x = s + :1', 'SET x = l - :1', 'SET x = list_append(s, :l)', 'ADD s :1', 'ADD ss :ns', 'ADD ns :1', 'DELETE n :ns', 'DELETE ss :ns']) {
      refused(() => update(t), incorrect);
    }
    refused(() => update('SET x = nope'), 'The provided expression refers to an attribute that does not exist in the item');
    refused(() => update('SET x = list_append(nope, :l)'), 'The provided expression refers to an attribute that does not exist in the item');
    const invalid = 'The document path provided in the update expression is invalid for update';
    for (const t of ['SET nope.a = :1', 'SET nope[0] = :1', 'SET s.a = :1', 'SET m[0] = :1', 'SET l.a = :1', 'REMOVE nope.a', 'REMOVE s[0]', 'REMOVE l.a', 'ADD nope.a :1', 'DELETE m[1] :ss']) {
      refused(() => update(t), invalid);
    }
    refused(() => updateOn(undefined, 'SET a.b = :1'), invalid);
  });

  it('refuses updates of key attributes, at the top or below', () => {
    for (const t of ['SET pk = :s', 'SET #k.a = :1', 'REMOVE pk', 'ADD pk :1', 'DELETE pk :ss']) {
      refused(() => update(t), 'One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key');
    }
    assert.equal(update('SET x = pk').item.get('x')?.type, 'S', 'reading a key attribute is fine');
  });

  it('refuses results past the item limits and number range', () => {
    const bigValues = parseExpressionAttributeValues({ ':big': { S: 'x'.repeat(ITEM_BYTES_MAX - 10) }, ':max': { N: '9.9999999999999999999999999999999999999e125' } });
    const p2: ExpressionParams = { names: new Map(), values: bigValues };
    refused(() => applyUpdate(base, parseUpdate('SET big = :big', p2, newUsage()), []), 'Item size to update has exceeded the maximum allowed size');
    refused(() => applyUpdate(base, parseUpdate('SET x = :max + :max', p2, newUsage()), []), /^Number overflow/);
    refused(() => applyUpdate(base, parseUpdate('ADD n :max', { names: new Map(), values: parseExpressionAttributeValues({ ':max': { N: '1e38' } }) }, newUsage()), []), /38 significant digits/);
    let deep: unknown = { S: 'leaf' };
    for (let i = 0; i < 30; i++) deep = { M: { d: deep } };
    const p3: ExpressionParams = { names: new Map(), values: parseExpressionAttributeValues({ ':deep': deep }) };
    assert.ok(applyUpdate(base, parseUpdate('SET d = :deep', p3, newUsage()), []).item.has('d'));
    refused(() => applyUpdate(base, parseUpdate('SET m.list[0] = :deep', p3, newUsage()), []), /^Nesting Levels have exceeded supported limits/);
  });
});

describe('applyUpdate on large items', () => {
  it('copies each container once per update: 299 SETs on an item of 89,000 attributes, leaving the input unchanged', () => {
    const chars = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const nameOf = (i: number) => chars[Math.floor(i / 3_844) % 62]! + chars[Math.floor(i / 62) % 62]! + chars[i % 62]!;
    const raw: Record<string, unknown> = {};
    for (let i = 0; i < 89_000; i++) raw[nameOf(i)] = { BOOL: true };
    const item = parseItem(raw);
    const before = JSON.stringify(wire(item));
    const names: Record<string, string> = {};
    const sets: string[] = [];
    for (let i = 0; i < 299; i++) {
      names[`#n${i}`] = nameOf(i * 297);
      sets.push(`#n${i} = :v`);
    }
    const p4: ExpressionParams = { names: parseExpressionAttributeNames(names), values: parseExpressionAttributeValues({ ':v': { N: '7' } }) };
    const parsed = parseUpdate(`SET ${sets.join(', ')}`, p4, newUsage());
    const started = performance.now();
    const result = applyUpdate(item, parsed, []);
    const elapsed = performance.now() - started;
    // A guard, not a benchmark: copying the top-level map for every action took 19.6 s.
    assert.ok(elapsed < 5_000, `took ${elapsed.toFixed(0)} ms`);
    assert.equal(result.item.size, 89_000);
    for (let i = 0; i < 299; i++) assert.deepEqual(result.item.get(nameOf(i * 297)), { type: 'N', value: '7' });
    assert.deepEqual(result.item.get(nameOf(1)), { type: 'BOOL', value: true });
    assert.equal(result.updatedNew.size, 299);
    assert.equal(JSON.stringify(wire(item)), before, 'the input item is unchanged');
  });

  it('changes its working copies in place but never the input, through nested maps and lists', () => {
    const before = JSON.stringify(wire(base));
    const p5: ExpressionParams = { names: new Map(), values: parseExpressionAttributeValues({ ':1': { N: '1' }, ':l': { L: [{ S: 'q' }] } }) };
    const result = applyUpdate(base, parseUpdate('SET m.a = :1, m.b = :1, l[0] = :1, l[5] = :1, m.list = :l REMOVE l[2], l[1], m.inner', p5, newUsage()), ['pk']);
    assert.deepEqual(wire(result.item), {
      ...(wire(base) as object),
      l: { L: [{ N: '1' }, { N: '1' }] },
      m: { M: { a: { N: '1' }, b: { N: '1' }, list: { L: [{ S: 'q' }] } } },
    });
    assert.equal(JSON.stringify(wire(base)), before, 'the input item is unchanged');
    // An update of a value another update produced leaves that result alone too.
    const again = applyUpdate(result.item, parseUpdate('SET m.c = :1 REMOVE l[0]', p5, newUsage()), ['pk']);
    assert.deepEqual(wire(result.item), { ...(wire(base) as object), l: { L: [{ N: '1' }, { N: '1' }] }, m: { M: { a: { N: '1' }, b: { N: '1' }, list: { L: [{ S: 'q' }] } } } });
    assert.deepEqual((wire(again.item) as { l: unknown }).l, { L: [{ N: '1' }] });
  });
});

describe('project', () => {
  it('keeps the selected paths, compacts list elements, skips missing ones', () => {
    const paths = parseProjection('n, m.inner, l[2], l[0], #p, missing, m.nope, s.x', params, newUsage());
    assert.deepEqual(wire(project(base, paths)), JSON.parse('{"n":{"N":"5"},"m":{"M":{"inner":{"N":"7"}}},"l":{"L":[{"S":"x"},{"S":"y"}]},"__proto__":{"S":"proto"}}'));
    assert.deepEqual(wire(project(base, parseProjection('missing', params, newUsage()))), {});
  });
});
