// The lexer shared by every DynamoDB expression (condition, filter, key condition, update,
// projection): splits the text into names, #name and :value placeholders, list indexes and
// operators, each with its position, and builds DynamoDB's syntax-error message from them.
// Owns the expression length bound; knows nothing of grammar. Pure.
import { utf8Bytes } from './attribute-value.ts';
import { validationError, type DynamoError } from './errors.ts';

/** The request field an expression came from; DynamoDB names it in every message. */
export type ExpressionKind = 'ConditionExpression' | 'FilterExpression' | 'KeyConditionExpression' | 'UpdateExpression' | 'ProjectionExpression';

/** Longest expression, in UTF-8 bytes (DynamoDB: 4 KB for any expression string). */
export const EXPRESSION_BYTES_MAX = 4 * 1024;
/** Largest list index a document path may name; larger is refused as a syntax error. */
export const LIST_INDEX_MAX = 2 ** 31 - 1;

export type TokenKind = 'name' | 'nameRef' | 'valueRef' | 'integer' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Offsets in the expression text, [start, end). */
  readonly start: number;
  readonly end: number;
}

const PUNCTUATION = ['<>', '<=', '>=', '(', ')', '[', ']', '.', ',', '=', '<', '>', '+', '-'] as const;
const NAME_START = /[A-Za-z]/;
const NAME_PART = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;
const SPACE = /[ \t\r\n]/;

/** DynamoDB's syntax error: the offending token and the text from the token before it. */
export function syntaxError(kind: ExpressionKind, text: string, tokens: readonly Token[], index: number): DynamoError {
  const token = tokens[index];
  const previous = index > 0 ? tokens[index - 1] : undefined;
  const shown = token === undefined || token.kind === 'eof' ? '<EOF>' : token.text;
  const nearStart = previous?.start ?? token?.start ?? 0;
  const nearEnd = token === undefined || token.kind === 'eof' ? text.length : token.end;
  return validationError(`Invalid ${kind}: Syntax error; token: "${shown}", near: "${text.slice(nearStart, nearEnd)}"`);
}

/** Refuses an empty or oversized expression with DynamoDB's messages. */
export function checkExpressionText(kind: ExpressionKind, text: string): void {
  if (text.trim().length === 0) throw validationError(`Invalid ${kind}: The expression can not be empty;`);
  const bytes = utf8Bytes(text);
  if (bytes > EXPRESSION_BYTES_MAX) {
    throw validationError(`Invalid ${kind}: Expression size has exceeded the maximum allowed size; expression size: ${bytes}`);
  }
}

/** Splits an expression into tokens ending with one 'eof'; throws DynamoDB's syntax error on a stray character. */
export function tokenize(kind: ExpressionKind, text: string): Token[] {
  checkExpressionText(kind, text);
  const tokens: Token[] = [];
  let i = 0;
  const take = (pattern: RegExp, from: number): number => {
    let j = from;
    while (j < text.length && pattern.test(text[j]!)) j++;
    return j;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    let end = -1;
    let tokenKind: TokenKind = 'punct';
    if (NAME_START.test(c)) {
      end = take(NAME_PART, i + 1);
      tokenKind = 'name';
    } else if (c === '#' || c === ':') {
      end = take(NAME_PART, i + 1);
      tokenKind = c === '#' ? 'nameRef' : 'valueRef';
      if (end === i + 1) end = -1;
    } else if (DIGIT.test(c)) {
      end = take(DIGIT, i + 1);
      tokenKind = 'integer';
    } else {
      const p = PUNCTUATION.find((q) => text.startsWith(q, i));
      if (p !== undefined) end = i + p.length;
    }
    if (end < 0) {
      // The stray character is the token DynamoDB reports.
      const stray: Token = { kind: 'punct', text: [...text.slice(i, i + 2)][0] ?? c, start: i, end: i + 1 };
      throw syntaxError(kind, text, [...tokens, stray], tokens.length);
    }
    tokens.push({ kind: tokenKind, text: text.slice(i, end), start: i, end });
    i = end;
  }
  tokens.push({ kind: 'eof', text: '', start: text.length, end: text.length });
  return tokens;
}
