// The expression parser against DynamoDB's grammar and its refusals: what parses to which tree
// (precedence, parentheses, functions, placeholders), and which inputs are refused with which
// ValidationException message, including hostile input: 4 KB bounds, deep nesting, prototype
// names as placeholders and as attribute names, unknown functions and stray characters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAttributeValue, type AttributeValue } from '../../src/dynamo/attribute-value.ts';
import { DynamoError } from '../../src/dynamo/errors.ts';
import {
  assertAllUsed, EXPRESSION_NESTING_MAX, formatPath, IN_OPERANDS_MAX, newUsage, parseCondition, parseExpressionAttributeNames,
  parseExpressionAttributeValues, parseKeyCondition, parseProjection, parseRequestExpressions, parseUpdate, type Condition, type ExpressionParams,
} from '../../src/dynamo/expression-parser.ts';
import { EXPRESSION_BYTES_MAX } from '../../src/dynamo/expression-tokens.ts';

const values: Record<string, unknown> = {
  ':n': { N: '5' }, ':m': { N: '10' }, ':s': { S: 'x' }, ':t': { S: 'S' }, ':l': { L: [] }, ':ss': { SS: ['a'] }, ':b': { BOOL: true },
};
const params: ExpressionParams = {
  names: parseExpressionAttributeNames({ '#a': 'a', '#p': '__proto__', '#dot': 'x.y', '#c': 'constructor' }),
  values: parseExpressionAttributeValues(values),
};
const cond = (text: string, kind: 'ConditionExpression' | 'FilterExpression' = 'ConditionExpression'): Condition => parseCondition(text, params, newUsage(), kind);

function refused(f: () => unknown, message: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, String(e));
    assert.equal(e.type, 'ValidationException');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** A compact rendering of a condition tree, to state precedence in one line. */
function show(c: Condition): string {
  const op = (o: { kind: string; path?: readonly { kind: string; name?: string; index?: number }[]; value?: AttributeValue; operand?: unknown }): string => {
    if (o.kind === 'path') return formatPath(o.path as never);
    if (o.kind === 'value') return JSON.stringify(o.value!.type === 'N' || o.value!.type === 'S' ? o.value!.value : o.value!.type);
    return `size(${op(o.operand as never)})`;
  };
  switch (c.kind) {
    case 'and': case 'or': return `(${show(c.left)} ${c.kind.toUpperCase()} ${show(c.right)})`;
    case 'not': return `NOT ${show(c.condition)}`;
    case 'compare': return `${op(c.left)} ${c.op} ${op(c.right)}`;
    case 'between': return `${op(c.operand)} BETWEEN ${op(c.low)} AND ${op(c.high)}`;
    case 'in': return `${op(c.operand)} IN ${c.list.length}`;
    case 'attribute_type': return `attribute_type(${formatPath(c.path)}, ${c.type})`;
    case 'attribute_exists': case 'attribute_not_exists': return `${c.kind}(${formatPath(c.path)})`;
    case 'begins_with': case 'contains': return `${c.kind}(${op(c.operand)}, ${op(c.argument)})`;
  }
}

describe('condition expressions', () => {
  it('bind NOT tighter than AND tighter than OR, keywords in any case', () => {
    assert.equal(show(cond('a = :n OR b = :n AND NOT c = :n')), '([a] = "5" OR ([b] = "5" AND NOT [c] = "5"))');
    assert.equal(show(cond('(a = :n or b = :n) and c = :n')), '(([a] = "5" OR [b] = "5") AND [c] = "5")');
    assert.equal(show(cond('not (a = :n)')), 'NOT [a] = "5"');
    assert.equal(show(cond('a < :n AND b <= :n AND c > :n AND d >= :n AND e <> :n')).split(' AND ').length, 5);
  });

  it('parse paths, placeholders, BETWEEN, IN and every function', () => {
    assert.equal(show(cond('#a.b[3].#dot = :s')), '[a, b, [3], x.y] = "x"');
    assert.equal(show(cond('a BETWEEN :n AND :m')), '[a] BETWEEN "5" AND "10"');
    assert.equal(show(cond('a IN (:n, :m, :s)')), '[a] IN 3');
    assert.equal(show(cond('attribute_exists(#p) AND attribute_not_exists(#c)')), '(attribute_exists([__proto__]) AND attribute_not_exists([constructor]))');
    assert.equal(show(cond('attribute_type(a, :t)')), 'attribute_type([a], S)');
    assert.equal(show(cond('begins_with(a, :s) OR contains(b, :s)')), '(begins_with([a], "x") OR contains([b], "x"))');
    assert.equal(show(cond('size(a) > :n')), 'size([a]) > "5"');
    assert.equal(show(cond('(a) = (:n)')), '[a] = "5"');
    assert.equal(show(cond(':n = a')), '"5" = [a]');
  });

  it('refuse syntax errors with the token and what precedes it', () => {
    refused(() => cond('a = :n AND'), 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"');
    refused(() => cond('a = = :n'), 'Invalid ConditionExpression: Syntax error; token: "=", near: "= ="');
    refused(() => cond('a $ :n'), 'Invalid ConditionExpression: Syntax error; token: "$", near: "a $"');
    refused(() => cond('_a = :n'), /Syntax error; token: "_"/);
    refused(() => cond('a = :n', 'FilterExpression').valueOf() && cond('a b', 'FilterExpression'), /^Invalid FilterExpression: Syntax error/);
    refused(() => cond('a'), /Syntax error; token: "<EOF>"/);
    refused(() => cond('a BETWEEN :n'), /Syntax error/);
    refused(() => cond('a IN ()'), /Syntax error/);
    refused(() => cond('a[x] = :n'), /Syntax error/);
    refused(() => cond('a[99999999999] = :n'), /Syntax error/);
  });

  it('refuse semantic errors with DynamoDB\'s messages', () => {
    const p = 'Invalid ConditionExpression: ';
    refused(() => cond('   '), `${p}The expression can not be empty;`);
    refused(() => cond('((a = :n))'), `${p}The expression has redundant parentheses;`);
    refused(() => cond('foo(a)'), `${p}Invalid function name; function: foo`);
    refused(() => cond('Begins_With(a, :s)'), `${p}Invalid function name; function: Begins_With`);
    refused(() => cond('constructor(a)'), `${p}Invalid function name; function: constructor`);
    refused(() => cond('if_not_exists(a, :n) = :n'), `${p}Invalid function name; function: if_not_exists`);
    refused(() => cond('attribute_exists(a) = :b'), `${p}The function is not allowed to be used this way in an expression; function: attribute_exists`);
    refused(() => cond('size(a)'), `${p}The function is not allowed to be used this way in an expression; function: size`);
    refused(() => cond('a = #nope'), `${p}An expression attribute name used in the document path is not defined; attribute name: #nope`);
    refused(() => cond('a = :nope'), `${p}An expression attribute value used in expression is not defined; attribute value: :nope`);
    refused(() => cond('begins_with(a)'), `${p}Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1`);
    refused(() => cond('a = a'), `${p}The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]`);
    refused(() => cond('attribute_exists(:n)'), `${p}Operator or function requires a document path; operator or function: attribute_exists`);
    refused(() => cond('begins_with(a, :n)'), `${p}Incorrect operand type for operator or function; operator or function: begins_with, operand type: N`);
    refused(() => cond('size(:b) = :n'), `${p}Incorrect operand type for operator or function; operator or function: size, operand type: BOOL`);
    refused(() => cond('attribute_type(a, :n)'), `${p}Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N`);
    refused(() => cond('attribute_type(a, :s)'), `${p}Invalid attribute type name found; type: x, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}`);
    refused(() => cond('a BETWEEN :m AND :n'), `${p}The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:5}`);
    refused(() => cond('a BETWEEN :n AND :s'), /requires same data type for lower and upper bounds/);
    refused(() => cond('a < :b'), `${p}Incorrect operand type for operator or function; operator or function: <, operand type: BOOL`);
  });

  it('report a syntax error ahead of any semantic error', () => {
    refused(() => cond('a = :nope AND'), /Syntax error/);
    refused(() => cond('foo(a) AND b ='), /Syntax error/);
  });

  it('bound IN lists, operators, nesting and length', () => {
    const list = (n: number) => Array.from({ length: n }, () => ':n').join(', ');
    assert.equal(show(cond(`a IN (${list(IN_OPERANDS_MAX)})`)), `[a] IN ${IN_OPERANDS_MAX}`);
    refused(() => cond(`a IN (${list(IN_OPERANDS_MAX + 1)})`), /IN operator is provided with too many operands; number of operands: 101/);
    refused(() => cond(Array.from({ length: 160 }, () => 'a = :n').join(' OR ')), /too many operators/);
    refused(() => cond(`${'NOT '.repeat(EXPRESSION_NESTING_MAX + 1)}a = :n`), /nested more than/);
    refused(() => cond(`${'('.repeat(1000)}a = :n${')'.repeat(1000)}`), /nested more than|redundant/);
    refused(() => cond(`a = :n OR ${'b'.repeat(EXPRESSION_BYTES_MAX)} = :n`), /^Invalid ConditionExpression: Expression size has exceeded the maximum allowed size/);
    refused(() => cond(`${Array.from({ length: 33 }, (_, i) => `a${i}`).join('.')} = :n`), /document path has too many nesting levels; nesting levels: 33/);
    assert.equal(cond(`${Array.from({ length: 32 }, (_, i) => `a${i}`).join('.')} = :n`).kind, 'compare');
  });
});

describe('update expressions', () => {
  const upd = (text: string) => parseUpdate(text, params, newUsage());

  it('parse all four clauses in any order and case', () => {
    const u = upd('remove x[2], y  set a = b + :n, c = list_append(if_not_exists(c, :l), :l), #p = :s ADD d :n, e :ss delete f :ss');
    assert.deepEqual(u.actions.map((a) => `${a.kind} ${formatPath(a.path)}`), [
      'REMOVE [x, [2]]', 'REMOVE [y]', 'SET [a]', 'SET [c]', 'SET [__proto__]', 'ADD [d]', 'ADD [e]', 'DELETE [f]',
    ]);
    const set = u.actions[2]!;
    assert.ok(set.kind === 'SET' && set.value.kind === '+');
  });

  it('refuse what DynamoDB refuses', () => {
    const p = 'Invalid UpdateExpression: ';
    for (const bad of ['whatever', 'set a', 'set a = b + c + d', 'add a b', 'delete a b', 'remove a = b', 'set a[1] = "x"', 'set :n = a', 'set a = b * c', 'set (a = b)']) {
      refused(() => upd(bad), /^Invalid UpdateExpression: Syntax error; /);
    }
    refused(() => upd('set a = :n set b = :n'), `${p}The "SET" section can only be used once in an update expression;`);
    refused(() => upd('remove a add b :n remove c'), `${p}The "REMOVE" section can only be used once in an update expression;`);
    refused(() => upd('set a = size(b)'), `${p}Invalid function name; function: size`);
    refused(() => upd('set a = if_not_exists(b)'), `${p}Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1`);
    refused(() => upd('set a = if_not_exists(:n, b)'), `${p}Operator or function requires a document path; operator or function: if_not_exists`);
    refused(() => upd('set a = list_append(:s, a)'), `${p}Incorrect operand type for operator or function; operator or function: list_append, operand type: S`);
    refused(() => upd('set a = a + :s'), `${p}Incorrect operand type for operator or function; operator or function: +, operand type: S`);
    refused(() => upd('add a :s'), `${p}Incorrect operand type for operator or function; operator: ADD, operand type: STRING`);
    refused(() => upd('delete a :n'), `${p}Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER`);
    refused(() => upd('add a :l'), /operator: ADD, operand type: LIST/);
    refused(() => upd('set a = :n remove a'), `${p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]`);
    refused(() => upd('remove a, #a.b'), `${p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]`);
    assert.equal(upd('remove c, #a.b, a.c, a.d[1], a.d[2]').actions.length, 5, 'siblings do not overlap');
    refused(() => upd('set a.b = :n, a = :n'), /overlap with each other; .*path one: \[a, b\], path two: \[a\]/);
    refused(() => upd('remove a.b set a[1] = :n'), `${p}Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]`);
  });
});

describe('projection expressions', () => {
  it('parse paths and refuse overlaps', () => {
    const paths = parseProjection('a, b.c[1], #p, #dot', params, newUsage());
    assert.deepEqual(paths.map(formatPath), ['[a]', '[b, c, [1]]', '[__proto__]', '[x.y]']);
    refused(() => parseProjection('a, a.b', params, newUsage()), /^Invalid ProjectionExpression: Two document paths overlap/);
    refused(() => parseProjection('a, :n', params, newUsage()), /^Invalid ProjectionExpression: Syntax error/);
  });

  it('check a 4 KB projection of 1,365 distinct paths in linear time, and still refuse overlaps in it', () => {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const isPath = (name: string): boolean => { try { parseProjection(name, params, newUsage()); return true; } catch { return false; } };
    const names: string[] = [];
    for (const x of letters) for (const y of `${letters}0123456789_`) if (isPath(x + y)) names.push(x + y); // not reserved words
    const text = names.slice(0, 1_365).join(',');
    assert.ok(text.length <= EXPRESSION_BYTES_MAX);
    const started = performance.now();
    const paths = parseProjection(text, params, newUsage());
    const elapsed = performance.now() - started;
    // A guard, not a benchmark: the pairwise check took ~280 ms.
    assert.ok(elapsed < 250, `took ${elapsed.toFixed(0)} ms`);
    assert.equal(paths.length, 1_365);
    const overlapping = `${names.slice(0, 1_000).join(',')},ab.c`;
    refused(() => parseProjection(overlapping, params, newUsage()), /overlap with each other; .*path one: \[ab\], path two: \[ab, c\]$/);
    const conflicting = `zz[1],${names.slice(0, 1_000).join(',')},zz.c`;
    refused(() => parseProjection(conflicting, params, newUsage()), /conflict with each other; .*path one: \[zz, \[1\]\], path two: \[zz, c\]$/);
  });

  it('report the same pair as a check of every pair would (overlaps first, then conflicts)', () => {
    // The pairwise check this replaced, as the reference.
    type Path = readonly ({ kind: 'name'; name: string } | { kind: 'index'; index: number })[];
    const same = (x: Path[number], y: Path[number]): boolean =>
      x.kind === 'name' ? y.kind === 'name' && x.name === y.name : y.kind === 'index' && x.index === y.index;
    const reference = (paths: readonly Path[]): string | undefined => {
      for (let i = 0; i < paths.length; i++) {
        for (let j = i + 1; j < paths.length; j++) {
          const [a, b] = [paths[i]!, paths[j]!];
          const common = Math.min(a.length, b.length);
          if (a.slice(0, common).every((e, k) => same(e, b[k]!))) return `overlap with each other; must remove or rewrite one of these paths; path one: ${formatPath(a)}, path two: ${formatPath(b)}`;
        }
      }
      for (let i = 0; i < paths.length; i++) {
        for (let j = i + 1; j < paths.length; j++) {
          const [a, b] = [paths[i]!, paths[j]!];
          for (let k = 0; k < Math.min(a.length, b.length); k++) {
            if (a[k]!.kind !== b[k]!.kind) return `conflict with each other; must remove or rewrite one of these paths; path one: ${formatPath(a)}, path two: ${formatPath(b)}`;
            if (!same(a[k]!, b[k]!)) break;
          }
        }
      }
      return undefined;
    };
    const element = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 2 }));
    const path = fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.array(element, { maxLength: 3 }))
      .map(([head, rest]) => head + rest.map((e) => (typeof e === 'number' ? `[${e}]` : `.${e}`)).join(''));
    fc.assert(fc.property(fc.array(path, { minLength: 1, maxLength: 8 }), (texts) => {
      const parsed = texts.map((t) => parseProjection(t, params, newUsage())[0]!);
      const expected = reference(parsed);
      const text = texts.join(', ');
      if (expected === undefined) assert.equal(parseProjection(text, params, newUsage()).length, texts.length);
      else refused(() => parseProjection(text, params, newUsage()), `Invalid ProjectionExpression: Two document paths ${expected}`);
    }), { numRuns: 2_000 });
  });
});

describe('key condition expressions', () => {
  const schema = { hashName: 'pk', rangeName: 'sk' };
  const key = (text: string) => parseKeyCondition(text, params, newUsage(), schema);

  it('accept a hash equality and one sort condition, either order', () => {
    assert.deepEqual(key('pk = :n'), { hashName: 'pk', hashValue: parseAttributeValue({ N: '5' }) });
    const k = key('sk BETWEEN :n AND :m AND pk = :s');
    assert.equal(k.sort?.condition.kind, 'between');
    assert.equal(key('pk = :s AND begins_with(sk, :s)').sort?.condition.kind, 'begins_with');
    assert.deepEqual(key('pk = :s AND :n < sk').sort?.condition, { kind: 'compare', op: '>', value: parseAttributeValue({ N: '5' }) });
  });

  it('refuse other shapes', () => {
    refused(() => key('pk = :s OR sk = :s'), 'Invalid operator used in KeyConditionExpression: OR');
    refused(() => key('NOT pk = :s'), 'Invalid operator used in KeyConditionExpression: NOT');
    refused(() => key('pk <> :s'), 'Invalid operator used in KeyConditionExpression: <>');
    refused(() => key('pk IN (:s)'), 'Invalid operator used in KeyConditionExpression: IN');
    refused(() => key('pk = :s AND attribute_exists(sk)'), 'Invalid operator used in KeyConditionExpression: attribute_exists');
    refused(() => key('sk = :s'), 'Query condition missed key schema element: pk');
    refused(() => key('pk = :s AND pk = :n'), 'KeyConditionExpressions must only contain one condition per key');
    refused(() => key('pk = :s AND sk = :s AND sk = :n'), 'Conditions can be of length 1 or 2 only');
    refused(() => key('pk < :s'), 'Query key condition not supported');
    refused(() => key('pk = :s AND other = :n'), /Query condition missed key schema element/);
    refused(() => key('pk = :s AND begins_with(sk, :n)'), /^Invalid KeyConditionExpression: Incorrect operand type/);
  });
});

describe('placeholders', () => {
  it('parse names and values, refusing bad keys and empty maps', () => {
    refused(() => parseExpressionAttributeNames({}), 'ExpressionAttributeNames must not be empty');
    refused(() => parseExpressionAttributeValues({}), 'ExpressionAttributeValues must not be empty');
    refused(() => parseExpressionAttributeNames({ b: 'x' }), 'ExpressionAttributeNames contains invalid key: Syntax error; key: "b"');
    refused(() => parseExpressionAttributeValues({ b: { S: 'x' } }), 'ExpressionAttributeValues contains invalid key: Syntax error; key: "b"');
    refused(() => parseExpressionAttributeNames({ [`#${'x'.repeat(255)}`]: 'x' }), /invalid key/);
    refused(() => parseExpressionAttributeValues({ ':b': {} }), 'ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key :b');
    refused(() => parseExpressionAttributeValues({ ':b': { SS: [] } }), 'ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :b');
    assert.throws(() => parseExpressionAttributeNames({ '#a': 5 }), (e: unknown) => e instanceof DynamoError && e.type === 'SerializationException');
    // Names are attribute names: held to the same rules (no lone surrogates, at most 65,535 UTF-8 bytes).
    refused(() => parseExpressionAttributeNames({ '#a': 'x\ud800' }),
      'ExpressionAttributeNames contains invalid value: One or more parameter values were invalid: An AttributeValue may not contain an invalid UTF-8 string for key #a');
    refused(() => parseExpressionAttributeNames({ '#a': '\udc00' }), /invalid UTF-8 string for key #a$/);
    refused(() => parseExpressionAttributeNames({ '#a': 'é'.repeat(32_768) }),
      'ExpressionAttributeNames contains invalid value: One or more parameter values were invalid: An attribute name may not be longer than 65535 bytes for key #a');
    assert.equal(parseExpressionAttributeNames({ '#a': 'x'.repeat(65_535), '#b': '\ud83d\ude00' }).get('#b'), '\u{1f600}');
    const names = parseExpressionAttributeNames(JSON.parse('{"#__proto__":"__proto__"}'));
    assert.equal(names.get('#__proto__'), '__proto__');
  });

  it('refuse placeholders no expression used, over all expressions of a request', () => {
    const request = {
      UpdateExpression: 'SET #a = :n', ConditionExpression: 'attribute_exists(#p)',
      ExpressionAttributeNames: { '#a': 'a', '#p': '__proto__' }, ExpressionAttributeValues: { ':n': { N: '1' } },
    };
    const parsed = parseRequestExpressions(request);
    assert.equal(parsed.update?.actions.length, 1);
    assert.equal(parsed.condition?.kind, 'attribute_exists');
    refused(() => parseRequestExpressions({ ...request, ExpressionAttributeNames: { ...request.ExpressionAttributeNames, '#x': 'x', '#y': 'y' } }),
      'Value provided in ExpressionAttributeNames unused in expressions: keys: {#x, #y}');
    refused(() => parseRequestExpressions({ ...request, ExpressionAttributeValues: { ':n': { N: '1' }, ':v': { S: 'x' } } }),
      'Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}');
    const usage = newUsage();
    parseCondition('a = :n', params, usage);
    assert.throws(() => assertAllUsed(params, usage), /unused in expressions/);
  });
});
