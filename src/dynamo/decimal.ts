// DynamoDB numbers: exact decimals of up to 38 significant digits whose most significant digit
// sits at a power of ten from -130 to +125 (so magnitudes 1E-130 .. 9.99..9E+125, and zero).
// Owns parsing the wire text (with DynamoDB's error messages), the canonical text DynamoDB
// answers with, total-order comparison, and exact addition/subtraction on bigint coefficients.
// Pure: no floating point ever touches a value.
import { assert } from '../env/assert.ts';
import { validationError } from './errors.ts';

/** Most significant digits a number may carry (DynamoDB: 38). */
export const NUMBER_DIGITS_MAX = 38;
/** Largest power of ten of a number's most significant digit (DynamoDB: 9.99..9E+125). */
export const NUMBER_EXPONENT_MAX = 125;
/** Smallest power of ten of a number's most significant digit (DynamoDB: 1E-130). */
export const NUMBER_EXPONENT_MIN = -130;
/**
 * Longest number text we parse, in characters. DynamoDB states no such bound; ours keeps a
 * hostile "0000...0001" from costing more than a few microseconds. The longest plain-notation
 * number DynamoDB can hold (1E-130 or 38 digits at E+125) is under 170 characters.
 */
export const NUMBER_TEXT_CHARS_MAX = 1024;
/** Exponent digits beyond which an exponent is certainly out of range (avoids Number overflow). */
const EXPONENT_DIGITS_MAX = 6;

/**
 * A decimal value: (-1)^negative × coefficient × 10^exponent, always normalised: the coefficient
 * has no trailing zeros, and zero is { negative: false, coefficient: 0n, exponent: 0 }. So two
 * equal numbers have equal fields.
 */
export interface Decimal {
  readonly negative: boolean;
  readonly coefficient: bigint;
  readonly exponent: number;
}

export const ZERO: Decimal = Object.freeze({ negative: false, coefficient: 0n, exponent: 0 });

const NUMBER_PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Builds a normalised Decimal (no trailing zeros in the coefficient; zero is positive). */
function normalise(negative: boolean, coefficient: bigint, exponent: number): Decimal {
  assert(coefficient >= 0n, 'a coefficient is never negative');
  if (coefficient === 0n) return ZERO;
  while (coefficient % 10n === 0n) {
    coefficient /= 10n;
    exponent += 1;
  }
  return { negative, coefficient, exponent };
}

/** Digits in the coefficient (1 for zero). */
export function significantDigits(d: Decimal): number {
  return d.coefficient === 0n ? 1 : d.coefficient.toString().length;
}

/** The power of ten of the most significant digit (0 for zero). */
function leadingExponent(d: Decimal): number {
  return d.coefficient === 0n ? 0 : d.exponent + significantDigits(d) - 1;
}

/** Throws DynamoDB's ValidationException unless `d` is storable; returns it otherwise. */
export function checkRange(d: Decimal): Decimal {
  if (d.coefficient === 0n) return d;
  const lead = leadingExponent(d);
  if (lead > NUMBER_EXPONENT_MAX) {
    throw validationError('Number overflow. Attempting to store a number with magnitude larger than supported range');
  }
  if (lead < NUMBER_EXPONENT_MIN) {
    throw validationError('Number underflow. Attempting to store a number with magnitude smaller than supported range');
  }
  if (significantDigits(d) > NUMBER_DIGITS_MAX) {
    throw validationError(`Attempting to store more than ${NUMBER_DIGITS_MAX} significant digits in a Number`);
  }
  return d;
}

/**
 * Parses a DynamoDB number as sent on the wire ("12", "-0.5", "1e3", ".5", "+7"), checking
 * DynamoDB's limits. Throws a ValidationException with DynamoDB's message otherwise.
 */
export function parseDecimal(text: string): Decimal {
  if (text.length === 0) throw validationError('The parameter cannot be converted to a numeric value');
  if (text.length > NUMBER_TEXT_CHARS_MAX) throw validationError('The parameter cannot be converted to a numeric value');
  const m = NUMBER_PATTERN.exec(text);
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (m === null || intPart.length + fracPart.length === 0) {
    throw validationError(`The parameter cannot be converted to a numeric value: ${text}`);
  }
  const negative = m[1] === '-';
  const digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits.length === 0) return ZERO;
  const expText = m[4] ?? '0';
  const expDigits = expText.replace(/^[+-]/, '').replace(/^0+/, '');
  if (expDigits.length > EXPONENT_DIGITS_MAX) {
    // A seven-digit exponent is out of range whatever the coefficient's length (bounded above).
    throw validationError(
      expText.startsWith('-')
        ? 'Number underflow. Attempting to store a number with magnitude smaller than supported range'
        : 'Number overflow. Attempting to store a number with magnitude larger than supported range',
    );
  }
  // Trailing zeros go on the string, in one linear pass: stripping them from a bigint one
  // division at a time is quadratic ("1." followed by 1,020 zeros took ~0.8 ms each).
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 0x30) end -= 1; // digits has a non-zero digit: stops at it
  const exponent = Number(expText) - fracPart.length + (digits.length - end);
  const significant = digits.slice(0, end);
  // The range checks in checkRange's order, on the string, so a bigint is only ever built from at
  // most NUMBER_DIGITS_MAX digits.
  const lead = exponent + significant.length - 1;
  if (lead > NUMBER_EXPONENT_MAX || lead < NUMBER_EXPONENT_MIN || significant.length > NUMBER_DIGITS_MAX) {
    checkRange({ negative, coefficient: 1n, exponent: lead }); // throws the overflow / underflow message
    throw validationError(`Attempting to store more than ${NUMBER_DIGITS_MAX} significant digits in a Number`);
  }
  return { negative, coefficient: BigInt(significant), exponent };
}

/** The canonical text DynamoDB answers with: plain notation, no leading or trailing zeros, no "-0". */
export function formatDecimal(d: Decimal): string {
  if (d.coefficient === 0n) return '0';
  const digits = d.coefficient.toString();
  const sign = d.negative ? '-' : '';
  if (d.exponent >= 0) return sign + digits + '0'.repeat(d.exponent);
  const point = digits.length + d.exponent;
  if (point > 0) return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  return `${sign}0.${'0'.repeat(-point)}${digits}`;
}

/** Parses and re-formats: the canonical text of a wire number (throws like parseDecimal). */
export function canonicalNumber(text: string): string {
  return formatDecimal(parseDecimal(text));
}

/** Signed coefficients of `a` and `b` scaled to their common (smaller) exponent. */
function aligned(a: Decimal, b: Decimal): { x: bigint; y: bigint; exponent: number } {
  const exponent = Math.min(a.exponent, b.exponent);
  const x = a.coefficient * 10n ** BigInt(a.exponent - exponent);
  const y = b.coefficient * 10n ** BigInt(b.exponent - exponent);
  return { x: a.negative ? -x : x, y: b.negative ? -y : y, exponent };
}

/** Total numeric order: negative if a < b, 0 if equal, positive if a > b. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  if (a.negative !== b.negative) return a.negative ? -1 : 1;
  const { x, y } = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a + b exactly; throws DynamoDB's ValidationException if the sum is not storable. */
export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const { x, y, exponent } = aligned(a, b);
  const sum = x + y;
  return checkRange(normalise(sum < 0n, sum < 0n ? -sum : sum, exponent));
}

/** -d. */
export function negateDecimal(d: Decimal): Decimal {
  return d.coefficient === 0n ? ZERO : { negative: !d.negative, coefficient: d.coefficient, exponent: d.exponent };
}

/** a - b exactly; throws DynamoDB's ValidationException if the difference is not storable. */
export function subtractDecimal(a: Decimal, b: Decimal): Decimal {
  return addDecimal(a, negateDecimal(b));
}
