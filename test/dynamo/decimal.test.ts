// DynamoDB numbers: parsing with DynamoDB's limits and messages, canonical text, and the laws
// the evaluator relies on, checked as properties (fast-check; failures print their seed):
// compare is a total order consistent with add, canonical text is idempotent and round-trips.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  addDecimal, canonicalNumber, compareDecimal, formatDecimal, negateDecimal, NUMBER_DIGITS_MAX, NUMBER_TEXT_CHARS_MAX,
  parseDecimal, subtractDecimal, ZERO, type Decimal,
} from '../../src/dynamo/decimal.ts';
import { parseAttributeValue } from '../../src/dynamo/attribute-value.ts';
import { DynamoError } from '../../src/dynamo/errors.ts';

function rejects(text: string, message: string | RegExp): void {
  assert.throws(() => parseDecimal(text), (e: unknown) => {
    assert.ok(e instanceof DynamoError, `${text}: ${String(e)}`);
    assert.equal(e.type, 'ValidationException');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/**
 * Decimals well inside the limits: at most 12 digits at exponents -10..10, so any sum of three
 * spans under 38 digits and stays storable (a wider one would be refused, rightly).
 */
const smallDecimal: fc.Arbitrary<Decimal> = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: -10, max: 10 }))
  .map(([neg, c, e]) => parseDecimal(`${neg ? '-' : ''}${c}e${e}`));

describe('parseDecimal and formatDecimal', () => {
  it('canonicalise as DynamoDB answers', () => {
    const cases: [string, string][] = [
      ['0', '0'], ['-0', '0'], ['+0.000', '0'], ['007', '7'], ['1.50', '1.5'], ['1e2', '100'], ['1E+2', '100'],
      ['-1.5e-3', '-0.0015'], ['.5', '0.5'], ['5.', '5'], ['+12', '12'], ['123.456', '123.456'], ['0e999999999999', '0'],
      ['1e-130', `0.${'0'.repeat(129)}1`], ['9.9999999999999999999999999999999999999e125', '99999999999999999999999999999999999999' + '0'.repeat(88)],
      ['12345678901234567890123456789012345678', '12345678901234567890123456789012345678'],
      ['1000000000000000000000000000000000000000000', '1' + '0'.repeat(42)],
    ];
    for (const [text, canonical] of cases) assert.equal(canonicalNumber(text), canonical, text);
  });

  it('refuse what DynamoDB refuses, with its messages', () => {
    rejects('', 'The parameter cannot be converted to a numeric value');
    for (const bad of ['abc', '1..2', '1e', 'e5', '.', '-', '1 ', ' 1', '0x10', 'Infinity', 'NaN', '1,5', '--1', '1e+-2']) {
      rejects(bad, `The parameter cannot be converted to a numeric value: ${bad}`);
    }
    rejects('1e126', 'Number overflow. Attempting to store a number with magnitude larger than supported range');
    rejects('-1e126', /^Number overflow/);
    rejects('1e9999999', /^Number overflow/);
    rejects('1e-131', 'Number underflow. Attempting to store a number with magnitude smaller than supported range');
    rejects('1e-9999999', /^Number underflow/);
    rejects('1'.repeat(NUMBER_DIGITS_MAX + 1), 'Attempting to store more than 38 significant digits in a Number');
    rejects('0.' + '1'.repeat(39), /38 significant digits/);
    rejects('1'.repeat(NUMBER_TEXT_CHARS_MAX + 1), 'The parameter cannot be converted to a numeric value');
  });

  it('keep leading and trailing zeros out of the digit count', () => {
    assert.equal(canonicalNumber('000' + '1'.repeat(38) + '000'), '1'.repeat(38) + '000');
    assert.equal(canonicalNumber('0.000' + '9'.repeat(38)), '0.000' + '9'.repeat(38));
  });

  it('round-trip: parse(format(d)) = d and canonicalisation is idempotent', () => {
    fc.assert(fc.property(smallDecimal, (d) => {
      assert.deepEqual(parseDecimal(formatDecimal(d)), d);
      const once = formatDecimal(d);
      assert.equal(canonicalNumber(once), once);
    }));
  });

  it('agree with JavaScript numbers on small integers and short decimals', () => {
    fc.assert(fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: 0, max: 4 }), (n, places) => {
      const text = (n / 10 ** places).toFixed(places);
      assert.equal(Number(canonicalNumber(text)), Number(text));
    }));
  });
});

describe('compareDecimal', () => {
  it('orders numbers numerically, not textually', () => {
    const ordered = ['-1e10', '-100', '-9.5', '-0.001', '0', '1e-130', '0.5', '2', '10', '1e125'].map(parseDecimal);
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(Math.sign(compareDecimal(ordered[i]!, ordered[j]!)), Math.sign(i - j), `${i} ${j}`);
      }
    }
    assert.equal(compareDecimal(parseDecimal('1.0'), parseDecimal('1')), 0);
  });

  it('is a total order: antisymmetric, transitive, total', () => {
    fc.assert(fc.property(smallDecimal, smallDecimal, smallDecimal, (a, b, c) => {
      // 0 - x, not -x: -Math.sign(0) is -0, which strict equality tells from 0 (seed 1665780104).
      assert.equal(Math.sign(compareDecimal(a, b)), 0 - Math.sign(compareDecimal(b, a)));
      if (compareDecimal(a, b) === 0) assert.deepEqual(a, b);
      if (compareDecimal(a, b) <= 0 && compareDecimal(b, c) <= 0) assert.ok(compareDecimal(a, c) <= 0);
    }));
  });

  it('is consistent with add: a <= b implies a + c <= b + c, and sign(b - a) = compare(b, a)', () => {
    fc.assert(fc.property(smallDecimal, smallDecimal, smallDecimal, (a, b, c) => {
      assert.equal(Math.sign(compareDecimal(addDecimal(a, c), addDecimal(b, c))), Math.sign(compareDecimal(a, b)));
      assert.equal(Math.sign(compareDecimal(subtractDecimal(b, a), ZERO)), Math.sign(compareDecimal(b, a)));
    }));
  });
});

describe('addDecimal and subtractDecimal', () => {
  it('are exact where floating point is not', () => {
    assert.equal(formatDecimal(addDecimal(parseDecimal('0.1'), parseDecimal('0.2'))), '0.3');
    assert.equal(formatDecimal(subtractDecimal(parseDecimal('1'), parseDecimal('0.9'))), '0.1');
    assert.equal(formatDecimal(addDecimal(parseDecimal('9007199254740993'), parseDecimal('1'))), '9007199254740994');
    assert.equal(formatDecimal(addDecimal(parseDecimal('-5'), parseDecimal('5'))), '0');
  });

  it('are commutative and associative, with zero as identity and negation as inverse', () => {
    fc.assert(fc.property(smallDecimal, smallDecimal, smallDecimal, (a, b, c) => {
      assert.deepEqual(addDecimal(a, b), addDecimal(b, a));
      assert.deepEqual(addDecimal(addDecimal(a, b), c), addDecimal(a, addDecimal(b, c)));
      assert.deepEqual(addDecimal(a, ZERO), a);
      assert.deepEqual(addDecimal(a, negateDecimal(a)), ZERO);
    }));
  });

  it('refuse results DynamoDB cannot store', () => {
    const big = parseDecimal('9.9999999999999999999999999999999999999e125');
    assert.throws(() => addDecimal(big, big), (e: unknown) => e instanceof DynamoError && /^Number overflow/.test(e.message));
    const wide = parseDecimal('1e37');
    assert.throws(() => addDecimal(wide, parseDecimal('1e-5')), (e: unknown) => e instanceof DynamoError && /38 significant digits/.test(e.message));
  });
});

describe('parseDecimal on long zero padding', () => {
  it('strips trailing zeros in linear time and stays exact (a 15,000-member NS of "n." + ~1,020 zeros)', () => {
    const texts = Array.from({ length: 15_000 }, (_, i) => {
      const head = `${i + 1}.`;
      return head + '0'.repeat(NUMBER_TEXT_CHARS_MAX - head.length);
    });
    const started = performance.now();
    const parsed = parseAttributeValue({ NS: texts });
    const elapsed = performance.now() - started;
    // A guard, not a benchmark: the quadratic strip took ~11 s here.
    assert.ok(elapsed < 5_000, `took ${elapsed.toFixed(0)} ms`);
    assert.equal(parsed.type, 'NS');
    assert.deepEqual(parsed.value, texts.map((_, i) => String(i + 1)));
  });

  it('keeps the exponent of the stripped zeros and the range checks', () => {
    assert.equal(canonicalNumber('1' + '0'.repeat(125)), '1' + '0'.repeat(125));
    assert.equal(canonicalNumber('12.5' + '0'.repeat(1000)), '12.5');
    assert.equal(canonicalNumber('0.' + '0'.repeat(129) + '1' + '0'.repeat(500)), `0.${'0'.repeat(129)}1`);
    assert.deepEqual(parseDecimal('1' + '0'.repeat(1000) + 'e-1000'), { negative: false, coefficient: 1n, exponent: 0 });
    rejects('1' + '0'.repeat(126), /^Number overflow/);
    rejects('0.' + '0'.repeat(130) + '1' + '0'.repeat(500), /^Number underflow/);
    rejects('1' + '0'.repeat(200) + '1', /^Number overflow/);
    rejects('1' + '0'.repeat(40) + '1', /38 significant digits/);
    rejects('-' + '1'.repeat(39) + '0'.repeat(80), /38 significant digits/);
  });
});
