// Parses DynamoDB's expression languages into typed trees: ConditionExpression and
// FilterExpression (comparisons, BETWEEN, IN, AND/OR/NOT, functions), KeyConditionExpression
// (hash equality and an optional sort condition), UpdateExpression (SET/REMOVE/ADD/DELETE) and
// ProjectionExpression; resolves #name and :value placeholders and tracks which were used so
// unused ones are refused as DynamoDB does. Every refusal is a ValidationException with
// DynamoDB's wording where known. Pure; evaluation lives in expression-eval.ts.
import { Buffer } from 'node:buffer';
import { attributeValueSizeBytes, checkAttributeName, parseAttributeValue, utf8Bytes, type AttributeType, type AttributeValue } from './attribute-value.ts';
import { compareDecimal, parseDecimal } from './decimal.ts';
import { DynamoError, serializationError, validationError } from './errors.ts';
import { LIST_INDEX_MAX, syntaxError, tokenize, type ExpressionKind, type Token } from './expression-tokens.ts';

/** Most operands an IN list takes (DynamoDB: 100). */
export const IN_OPERANDS_MAX = 100;
/** Most operators and functions in one expression (DynamoDB: 300). */
export const EXPRESSION_OPERATORS_MAX = 300;
/** Most elements in one document path: a top-level name and 31 dereferences (DynamoDB: 32 levels). */
export const DOCUMENT_PATH_ELEMENTS_MAX = 32;
/** Deepest parenthesis and NOT nesting we parse; bounds recursion (ours: a 4 KB expression could nest ~2,000). */
export const EXPRESSION_NESTING_MAX = 64;
/** Longest placeholder (`#name` or `:value`), in UTF-8 bytes (DynamoDB: 255). */
export const PLACEHOLDER_BYTES_MAX = 255;
/** Most bytes of all substitutions of one request, names and values (DynamoDB: 2 MB). */
export const SUBSTITUTIONS_BYTES_MAX = 2 * 1024 * 1024;

// ---- trees ----

export type PathElement = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'index'; readonly index: number };
/** A document path: a top-level attribute name, then map keys and list indexes. Never empty. */
export type DocumentPath = readonly PathElement[];

export type Operand =
  | { readonly kind: 'path'; readonly path: DocumentPath }
  | { readonly kind: 'value'; readonly value: AttributeValue }
  | { readonly kind: 'size'; readonly operand: Operand };

export type Comparator = '=' | '<>' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { readonly kind: 'compare'; readonly op: Comparator; readonly left: Operand; readonly right: Operand }
  | { readonly kind: 'between'; readonly operand: Operand; readonly low: Operand; readonly high: Operand }
  | { readonly kind: 'in'; readonly operand: Operand; readonly list: readonly Operand[] }
  | { readonly kind: 'and' | 'or'; readonly left: Condition; readonly right: Condition }
  | { readonly kind: 'not'; readonly condition: Condition }
  | { readonly kind: 'attribute_exists' | 'attribute_not_exists'; readonly path: DocumentPath }
  | { readonly kind: 'attribute_type'; readonly path: DocumentPath; readonly type: AttributeType }
  | { readonly kind: 'begins_with' | 'contains'; readonly operand: Operand; readonly argument: Operand };

export type UpdateOperand =
  | { readonly kind: 'path'; readonly path: DocumentPath }
  | { readonly kind: 'value'; readonly value: AttributeValue }
  | { readonly kind: 'if_not_exists'; readonly path: DocumentPath; readonly fallback: UpdateOperand }
  | { readonly kind: 'list_append'; readonly left: UpdateOperand; readonly right: UpdateOperand };

export type SetValue =
  | { readonly kind: 'operand'; readonly operand: UpdateOperand }
  | { readonly kind: '+' | '-'; readonly left: UpdateOperand; readonly right: UpdateOperand };

export type UpdateAction =
  | { readonly kind: 'SET'; readonly path: DocumentPath; readonly value: SetValue }
  | { readonly kind: 'REMOVE'; readonly path: DocumentPath }
  | { readonly kind: 'ADD' | 'DELETE'; readonly path: DocumentPath; readonly value: AttributeValue };

export interface ParsedUpdate {
  /** In the order written; no two targets overlap or conflict. */
  readonly actions: readonly UpdateAction[];
}

export type SortKeyCondition =
  | { readonly kind: 'compare'; readonly op: Exclude<Comparator, '<>'>; readonly value: AttributeValue }
  | { readonly kind: 'between'; readonly low: AttributeValue; readonly high: AttributeValue }
  | { readonly kind: 'begins_with'; readonly prefix: AttributeValue };

export interface KeyCondition {
  readonly hashName: string;
  readonly hashValue: AttributeValue;
  readonly sort?: { readonly name: string; readonly condition: SortKeyCondition };
}

export interface KeySchema {
  readonly hashName: string;
  readonly rangeName?: string;
}

/** ExpressionAttributeNames and ExpressionAttributeValues of one request, parsed. */
export interface ExpressionParams {
  readonly names: ReadonlyMap<string, string>;
  readonly values: ReadonlyMap<string, AttributeValue>;
}

/** Placeholders the expressions of one request used; assertAllUsed checks it after the last parse. */
export interface ExpressionUsage {
  readonly names: Set<string>;
  readonly values: Set<string>;
}

export function newUsage(): ExpressionUsage {
  return { names: new Set(), values: new Set() };
}

export const NO_PARAMS: ExpressionParams = { names: new Map(), values: new Map() };

// ---- ExpressionAttributeNames / ExpressionAttributeValues ----

const NAME_PLACEHOLDER = /^#[A-Za-z0-9_]+$/;
const VALUE_PLACEHOLDER = /^:[A-Za-z0-9_]+$/;

function isPlainObject(x: unknown): x is { readonly [k: string]: unknown } {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkPlaceholder(field: string, key: string, pattern: RegExp): void {
  if (!pattern.test(key) || utf8Bytes(key) > PLACEHOLDER_BYTES_MAX) {
    throw validationError(`${field} contains invalid key: Syntax error; key: "${key}"`);
  }
}

/** Parses ExpressionAttributeNames (absent → empty). Keys are `#name`, values attribute names. */
export function parseExpressionAttributeNames(raw: unknown): ReadonlyMap<string, string> {
  const names = new Map<string, string>();
  if (raw === undefined || raw === null) return names;
  if (!isPlainObject(raw)) throw serializationError('Start of list found where not expected');
  const keys = Object.keys(raw);
  if (keys.length === 0) throw validationError('ExpressionAttributeNames must not be empty');
  let bytes = 0;
  for (const key of keys) {
    checkPlaceholder('ExpressionAttributeNames', key, NAME_PLACEHOLDER);
    const name = raw[key];
    if (typeof name !== 'string') throw serializationError('Unexpected value type in ExpressionAttributeNames: expected a String');
    if (name.length === 0) throw validationError(`ExpressionAttributeNames contains invalid value: Empty attribute name for key ${key}`);
    // A name is an attribute name like any other: no lone surrogates, at most 65,535 bytes.
    try {
      checkAttributeName(name);
    } catch (e) {
      if (e instanceof DynamoError) throw validationError(`ExpressionAttributeNames contains invalid value: ${e.message} for key ${key}`);
      throw e;
    }
    bytes += utf8Bytes(key) + utf8Bytes(name);
    names.set(key, name);
  }
  if (bytes > SUBSTITUTIONS_BYTES_MAX) throw validationError('ExpressionAttributeNames exceed the maximum allowed size of 2 MB');
  return names;
}

/** Parses ExpressionAttributeValues (absent → empty), wrapping value errors as DynamoDB does. */
export function parseExpressionAttributeValues(raw: unknown): ReadonlyMap<string, AttributeValue> {
  const values = new Map<string, AttributeValue>();
  if (raw === undefined || raw === null) return values;
  if (!isPlainObject(raw)) throw serializationError('Start of list found where not expected');
  const keys = Object.keys(raw);
  if (keys.length === 0) throw validationError('ExpressionAttributeValues must not be empty');
  let bytes = 0;
  for (const key of keys) {
    checkPlaceholder('ExpressionAttributeValues', key, VALUE_PLACEHOLDER);
    let value: AttributeValue;
    try {
      value = parseAttributeValue(raw[key]);
    } catch (e) {
      if (e instanceof DynamoError && e.type === 'ValidationException' && !e.message.startsWith('Nesting Levels')) {
        throw validationError(`ExpressionAttributeValues contains invalid value: ${e.message} for key ${key}`);
      }
      throw e;
    }
    bytes += utf8Bytes(key) + attributeValueSizeBytes(value);
    values.set(key, value);
  }
  if (bytes > SUBSTITUTIONS_BYTES_MAX) throw validationError('ExpressionAttributeValues exceed the maximum allowed size of 2 MB');
  return values;
}

/** Refuses placeholders no expression of the request used, with DynamoDB's messages (names first). */
export function assertAllUsed(params: ExpressionParams, usage: ExpressionUsage): void {
  const unusedNames = [...params.names.keys()].filter((k) => !usage.names.has(k));
  if (unusedNames.length > 0) throw validationError(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`);
  const unusedValues = [...params.values.keys()].filter((k) => !usage.values.has(k));
  if (unusedValues.length > 0) throw validationError(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`);
}

// ---- messages ----

/** A path as DynamoDB prints it in messages: `[a, [1], b]`. */
export function formatPath(path: DocumentPath): string {
  return `[${path.map((e) => (e.kind === 'name' ? e.name : `[${e.index}]`)).join(', ')}]`;
}

/** DynamoDB's short type names in update-operator messages. */
const OPERAND_TYPE_NAMES: { readonly [T in AttributeType]: string } = {
  S: 'STRING', N: 'NUMBER', B: 'BINARY', BOOL: 'BOOLEAN', NULL: 'NULL', L: 'LIST', M: 'MAP', SS: 'STRING_SET', NS: 'NUMBER_SET', BS: 'BINARY_SET',
};

function wireShort(v: AttributeValue): string {
  if (v.type === 'S' || v.type === 'N') return `{${v.type}:${v.value}}`;
  return `{${v.type}}`;
}

// Deferred semantic errors, by DynamoDB's precedence: a syntax error anywhere wins over all of
// them (they are only thrown once the whole text parsed), and among them the lowest rank wins.
const RANK_PARENS = 0;
const RANK_UNKNOWN_FUNCTION = 1;
const RANK_MISUSED_FUNCTION = 2;
const RANK_PLACEHOLDER = 3;
const RANK_OPERANDS = 4;
const RANK_DISTINCT = 5;
const RANK_TYPES = 6;
const RANK_STRUCTURE = 7;

const CONDITION_FUNCTIONS: { readonly [name: string]: number } = {
  attribute_exists: 1, attribute_not_exists: 1, attribute_type: 2, begins_with: 2, contains: 2, size: 1,
};
const UPDATE_FUNCTIONS: { readonly [name: string]: number } = { if_not_exists: 2, list_append: 2 };
const COMPARATORS: readonly string[] = ['=', '<>', '<', '<=', '>', '>='];
const CONDITION_KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN']);
const CLAUSE_KEYWORDS = new Set(['SET', 'REMOVE', 'ADD', 'DELETE']);
const VALID_TYPE_NAMES = new Set<string>(['S', 'N', 'B', 'NULL', 'SS', 'BOOL', 'L', 'BS', 'NS', 'M']);

/** What a parenthesised unit of a condition turned out to be. */
type Unit =
  | { readonly condition: Condition; readonly operand?: undefined; readonly parens: boolean; readonly fn?: string }
  | { readonly operand: Operand; readonly condition?: undefined; readonly parens: boolean; readonly fn?: string };

class Parser {
  private pos = 0;
  private deferred: { rank: number; message: string } | undefined;
  private operators = 0;
  private depth = 0;
  private readonly tokens: Token[];

  constructor(
    private readonly kind: ExpressionKind,
    private readonly text: string,
    private readonly params: ExpressionParams,
    private readonly usage: ExpressionUsage,
  ) {
    this.tokens = tokenize(kind, text);
  }

  // -- token helpers --

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private fail(): never {
    throw syntaxError(this.kind, this.text, this.tokens, this.pos);
  }

  private isPunct(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'punct' && t.text === text;
  }

  private expectPunct(text: string): void {
    if (!this.isPunct(text)) this.fail();
    this.pos++;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'name' && t.text.toUpperCase() === word;
  }

  private defer(rank: number, message: string): void {
    if (this.deferred === undefined || rank < this.deferred.rank) this.deferred = { rank, message };
  }

  private countOperator(): void {
    this.operators++;
  }

  /** Ends a parse: the text must be used up, then any deferred error is thrown. */
  finish(): void {
    if (this.peek().kind !== 'eof') this.fail();
    if (this.operators > EXPRESSION_OPERATORS_MAX) {
      this.defer(RANK_STRUCTURE, `The expression contains too many operators; operator count: ${this.operators}, maximum: ${EXPRESSION_OPERATORS_MAX}`);
    }
    if (this.deferred !== undefined) throw validationError(`Invalid ${this.kind}: ${this.deferred.message}`);
  }

  private enter(): void {
    if (++this.depth > EXPRESSION_NESTING_MAX) {
      throw validationError(`Invalid ${this.kind}: The expression is nested more than ${EXPRESSION_NESTING_MAX} levels deep`);
    }
  }

  private leave(): void {
    this.depth--;
  }

  // -- placeholders and paths --

  private resolveName(token: Token): string {
    const name = this.params.names.get(token.text);
    if (name === undefined) {
      this.defer(RANK_PLACEHOLDER, `An expression attribute name used in the document path is not defined; attribute name: ${token.text}`);
      return token.text;
    }
    this.usage.names.add(token.text);
    return name;
  }

  private resolveValue(token: Token): AttributeValue {
    const value = this.params.values.get(token.text);
    if (value === undefined) {
      this.defer(RANK_PLACEHOLDER, `An expression attribute value used in expression is not defined; attribute value: ${token.text}`);
      return { type: 'NULL' };
    }
    this.usage.values.add(token.text);
    return value;
  }

  private pathElementName(): string {
    const t = this.peek();
    if (t.kind === 'nameRef') {
      this.pos++;
      return this.resolveName(t);
    }
    if (t.kind === 'name' && !CONDITION_KEYWORDS.has(t.text.toUpperCase()) && !CLAUSE_KEYWORDS.has(t.text.toUpperCase())) {
      this.pos++;
      return t.text;
    }
    return this.fail();
  }

  private isPathStart(offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'nameRef' || (t.kind === 'name' && !CONDITION_KEYWORDS.has(t.text.toUpperCase()) && !CLAUSE_KEYWORDS.has(t.text.toUpperCase()));
  }

  /** path := element ('.' element | '[' integer ']')* */
  parsePath(): DocumentPath {
    const path: PathElement[] = [{ kind: 'name', name: this.pathElementName() }];
    for (;;) {
      if (this.isPunct('.')) {
        this.pos++;
        path.push({ kind: 'name', name: this.pathElementName() });
      } else if (this.isPunct('[')) {
        this.pos++;
        const t = this.peek();
        if (t.kind !== 'integer') this.fail();
        const index = Number(t.text);
        if (!Number.isSafeInteger(index) || index > LIST_INDEX_MAX) this.fail();
        this.pos++;
        this.expectPunct(']');
        path.push({ kind: 'index', index });
      } else {
        break;
      }
    }
    if (path.length > DOCUMENT_PATH_ELEMENTS_MAX) {
      this.defer(RANK_STRUCTURE, `The document path has too many nesting levels; nesting levels: ${path.length}`);
    }
    return path;
  }

  // -- conditions --

  /** condition := or ; refuses a bare operand where a condition belongs. */
  parseCondition(): Condition {
    return this.asCondition(this.parseOr());
  }

  private asCondition(u: Unit): Condition {
    if (u.condition !== undefined) return u.condition;
    if (u.operand.kind === 'size') {
      this.defer(RANK_MISUSED_FUNCTION, 'The function is not allowed to be used this way in an expression; function: size');
      return { kind: 'attribute_exists', path: [{ kind: 'name', name: 'size' }] };
    }
    // A bare path or value where a condition belongs: DynamoDB reports the token after it.
    return this.fail();
  }

  private asOperand(u: Unit): Operand {
    if (u.operand !== undefined) return u.operand;
    if (u.fn !== undefined) {
      this.defer(RANK_MISUSED_FUNCTION, `The function is not allowed to be used this way in an expression; function: ${u.fn}`);
      return { kind: 'value', value: { type: 'NULL' } };
    }
    return this.fail();
  }

  private parseOr(): Unit {
    let left = this.parseAnd();
    while (this.isKeyword('OR')) {
      this.pos++;
      this.countOperator();
      const right = this.asCondition(this.parseAnd());
      left = { condition: { kind: 'or', left: this.asCondition(left), right }, parens: false };
    }
    return left;
  }

  private parseAnd(): Unit {
    let left = this.parseNot();
    while (this.isKeyword('AND')) {
      this.pos++;
      this.countOperator();
      const right = this.asCondition(this.parseNot());
      left = { condition: { kind: 'and', left: this.asCondition(left), right }, parens: false };
    }
    return left;
  }

  private parseNot(): Unit {
    if (!this.isKeyword('NOT')) return this.parsePredicate();
    this.pos++;
    this.countOperator();
    this.enter();
    const inner = this.asCondition(this.parseNot());
    this.leave();
    return { condition: { kind: 'not', condition: inner }, parens: false };
  }

  /** predicate := unit [comparator unit | BETWEEN unit AND unit | IN '(' unit (',' unit)* ')'] */
  private parsePredicate(): Unit {
    const first = this.parseUnit();
    const t = this.peek();
    if (t.kind === 'punct' && COMPARATORS.includes(t.text)) {
      this.pos++;
      this.countOperator();
      const left = this.asOperand(first);
      const right = this.asOperand(this.parseUnit());
      const op = t.text as Comparator;
      this.checkDistinct(op, left, right);
      if (op !== '=' && op !== '<>') for (const o of [left, right]) this.checkOrderable(op, o);
      return { condition: { kind: 'compare', op, left, right }, parens: false };
    }
    if (this.isKeyword('BETWEEN')) {
      this.pos++;
      this.countOperator();
      const operand = this.asOperand(first);
      const low = this.asOperand(this.parseUnit());
      if (!this.isKeyword('AND')) this.fail();
      this.pos++;
      const high = this.asOperand(this.parseUnit());
      this.checkBetween(low, high);
      return { condition: { kind: 'between', operand, low, high }, parens: false };
    }
    if (this.isKeyword('IN')) {
      this.pos++;
      this.countOperator();
      const operand = this.asOperand(first);
      this.expectPunct('(');
      const list: Operand[] = [this.asOperand(this.parseUnit())];
      while (this.isPunct(',')) {
        this.pos++;
        list.push(this.asOperand(this.parseUnit()));
      }
      this.expectPunct(')');
      if (list.length > IN_OPERANDS_MAX) {
        this.defer(RANK_STRUCTURE, `The IN operator is provided with too many operands; number of operands: ${list.length}`);
      }
      return { condition: { kind: 'in', operand, list }, parens: false };
    }
    return first;
  }

  /** unit := '(' or ')' | function '(' args ')' | path | :value */
  private parseUnit(): Unit {
    const t = this.peek();
    if (this.isPunct('(')) {
      this.pos++;
      this.enter();
      const inner = this.parseOr();
      this.leave();
      this.expectPunct(')');
      if (inner.parens) this.defer(RANK_PARENS, 'The expression has redundant parentheses;');
      return { ...inner, parens: true } as Unit;
    }
    if (t.kind === 'valueRef') {
      this.pos++;
      return { operand: { kind: 'value', value: this.resolveValue(t) }, parens: false };
    }
    if (t.kind === 'name' && this.isPunct('(', 1)) return this.parseFunction();
    if (this.isPathStart()) return { operand: { kind: 'path', path: this.parsePath() }, parens: false };
    return this.fail();
  }

  private parseFunction(): Unit {
    const name = this.next().text;
    this.expectPunct('(');
    this.countOperator();
    this.enter();
    const args: Operand[] = [this.asOperand(this.parseUnit())];
    while (this.isPunct(',')) {
      this.pos++;
      args.push(this.asOperand(this.parseUnit()));
    }
    this.leave();
    this.expectPunct(')');
    // hasOwn: a name like `constructor` must not find Object.prototype's member.
    const arity = Object.hasOwn(CONDITION_FUNCTIONS, name) ? CONDITION_FUNCTIONS[name] : undefined;
    if (arity === undefined) {
      this.defer(RANK_UNKNOWN_FUNCTION, `Invalid function name; function: ${name}`);
      return { condition: { kind: 'attribute_exists', path: [{ kind: 'name', name }] }, parens: false, fn: name };
    }
    if (args.length !== arity) {
      this.defer(RANK_OPERANDS, `Incorrect number of operands for operator or function; operator or function: ${name}, number of operands: ${args.length}`);
      return name === 'size'
        ? { operand: { kind: 'value', value: { type: 'NULL' } }, parens: false, fn: name }
        : { condition: { kind: 'attribute_exists', path: [{ kind: 'name', name }] }, parens: false, fn: name };
    }
    const [a, b] = [args[0]!, args[1]];
    if (name === 'size') {
      const type = staticType(a);
      if (type === 'N' || type === 'BOOL' || type === 'NULL') this.typeError(name, type);
      return { operand: { kind: 'size', operand: a }, parens: false, fn: name };
    }
    if (b !== undefined) this.checkDistinct(name, a, b);
    const fn = name;
    switch (name) {
      case 'attribute_exists':
      case 'attribute_not_exists':
        return { condition: { kind: name, path: this.requirePath(name, a) }, parens: false, fn };
      case 'attribute_type': {
        const path = this.requirePath(name, a);
        const typeArg = b!;
        if (typeArg.kind !== 'value' || typeArg.value.type !== 'S') {
          this.typeError(name, staticType(typeArg) ?? '{NS,SS,L,BS,N,M,B,BOOL,NULL,S}');
          return { condition: { kind: 'attribute_exists', path }, parens: false, fn };
        }
        if (!VALID_TYPE_NAMES.has(typeArg.value.value)) {
          this.defer(RANK_TYPES, `Invalid attribute type name found; type: ${typeArg.value.value}, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}`);
          return { condition: { kind: 'attribute_exists', path }, parens: false, fn };
        }
        return { condition: { kind: name, path, type: typeArg.value.value as AttributeType }, parens: false, fn };
      }
      case 'begins_with':
        for (const arg of args) {
          const type = staticType(arg);
          if (type !== undefined && type !== 'S' && type !== 'B') this.typeError(name, type);
        }
        return { condition: { kind: name, operand: a, argument: b! }, parens: false, fn };
      default:
        return { condition: { kind: 'contains', operand: a, argument: b! }, parens: false, fn };
    }
  }

  private requirePath(fn: string, o: Operand): DocumentPath {
    if (o.kind === 'path') return o.path;
    this.defer(RANK_TYPES, `Operator or function requires a document path; operator or function: ${fn}`);
    return [{ kind: 'name', name: fn }];
  }

  private typeError(fn: string, type: string): void {
    this.defer(RANK_TYPES, `Incorrect operand type for operator or function; operator or function: ${fn}, operand type: ${type}`);
  }

  private checkDistinct(op: string, a: Operand, b: Operand): void {
    if (a.kind === 'path' && b.kind === 'path' && pathsEqual(a.path, b.path)) {
      this.defer(RANK_DISTINCT, `The first operand must be distinct from the remaining operands for this operator or function; operator: ${op}, first operand: ${formatPath(a.path)}`);
    }
  }

  private checkOrderable(op: string, o: Operand): void {
    const type = staticType(o);
    if (type !== undefined && type !== 'N' && type !== 'S' && type !== 'B') this.typeError(op, type);
  }

  private checkBetween(low: Operand, high: Operand): void {
    if (low.kind !== 'value' || high.kind !== 'value') return;
    const [x, y] = [low.value, high.value];
    const shown = `lower bound operand: AttributeValue: ${wireShort(x)}, upper bound operand: AttributeValue: ${wireShort(y)}`;
    if (x.type !== y.type) {
      this.defer(RANK_TYPES, `The BETWEEN operator requires same data type for lower and upper bounds; ${shown}`);
    } else if (x.type === 'N' || x.type === 'S' || x.type === 'B') {
      if (compareScalars(x, y) > 0) this.defer(RANK_TYPES, `The BETWEEN operator requires upper bound to be greater than or equal to lower bound; ${shown}`);
    } else {
      this.typeError('BETWEEN', x.type);
    }
  }

  // -- update expressions --

  parseUpdate(): ParsedUpdate {
    const actions: UpdateAction[] = [];
    const seen = new Set<string>();
    do {
      const t = this.peek();
      const clause = t.kind === 'name' ? t.text.toUpperCase() : '';
      if (!CLAUSE_KEYWORDS.has(clause)) this.fail();
      this.pos++;
      if (seen.has(clause)) this.defer(RANK_STRUCTURE, `The "${clause}" section can only be used once in an update expression;`);
      seen.add(clause);
      actions.push(this.parseAction(clause));
      while (this.isPunct(',')) {
        this.pos++;
        actions.push(this.parseAction(clause));
      }
    } while (this.peek().kind !== 'eof');
    this.checkTargets(actions.map((a) => a.path));
    return { actions };
  }

  private parseAction(clause: string): UpdateAction {
    const path = this.parsePath();
    this.countOperator();
    switch (clause) {
      case 'SET': {
        this.expectPunct('=');
        const left = this.parseUpdateOperand();
        if (this.isPunct('+') || this.isPunct('-')) {
          const op = this.next().text as '+' | '-';
          const right = this.parseUpdateOperand();
          for (const o of [left, right]) {
            const type = updateStaticType(o);
            if (type !== undefined && type !== 'N') this.typeError(op, type);
          }
          return { kind: 'SET', path, value: { kind: op, left, right } };
        }
        return { kind: 'SET', path, value: { kind: 'operand', operand: left } };
      }
      case 'REMOVE':
        return { kind: 'REMOVE', path };
      default: {
        const t = this.peek();
        if (t.kind !== 'valueRef') this.fail();
        this.pos++;
        const value = this.resolveValue(t);
        const allowed = clause === 'ADD' ? ['N', 'SS', 'NS', 'BS'] : ['SS', 'NS', 'BS'];
        if (!allowed.includes(value.type)) {
          this.defer(RANK_TYPES, `Incorrect operand type for operator or function; operator: ${clause}, operand type: ${OPERAND_TYPE_NAMES[value.type]}`);
        }
        return { kind: clause === 'ADD' ? 'ADD' : 'DELETE', path, value };
      }
    }
  }

  private parseUpdateOperand(): UpdateOperand {
    const t = this.peek();
    if (t.kind === 'valueRef') {
      this.pos++;
      return { kind: 'value', value: this.resolveValue(t) };
    }
    if (t.kind === 'name' && this.isPunct('(', 1)) {
      const name = this.next().text;
      this.pos++;
      this.countOperator();
      this.enter();
      const args: UpdateOperand[] = [this.parseUpdateOperand()];
      while (this.isPunct(',')) {
        this.pos++;
        args.push(this.parseUpdateOperand());
      }
      this.leave();
      this.expectPunct(')');
      const arity = Object.hasOwn(UPDATE_FUNCTIONS, name) ? UPDATE_FUNCTIONS[name] : undefined;
      const placeholder: UpdateOperand = { kind: 'value', value: { type: 'NULL' } };
      if (arity === undefined) {
        this.defer(RANK_UNKNOWN_FUNCTION, `Invalid function name; function: ${name}`);
        return placeholder;
      }
      if (args.length !== arity) {
        this.defer(RANK_OPERANDS, `Incorrect number of operands for operator or function; operator or function: ${name}, number of operands: ${args.length}`);
        return placeholder;
      }
      const [a, b] = [args[0]!, args[1]!];
      if (name === 'if_not_exists') {
        if (a.kind !== 'path') {
          this.defer(RANK_TYPES, 'Operator or function requires a document path; operator or function: if_not_exists');
          return placeholder;
        }
        return { kind: 'if_not_exists', path: a.path, fallback: b };
      }
      for (const o of [a, b]) {
        const type = updateStaticType(o);
        if (type !== undefined && type !== 'L') this.typeError('list_append', type);
      }
      return { kind: 'list_append', left: a, right: b };
    }
    if (this.isPathStart()) return { kind: 'path', path: this.parsePath() };
    return this.fail();
  }

  /**
   * Refuses targets that overlap (one a prefix of another) or conflict (a name where the other has
   * an index). Reports the first pair (by first path, then second) as a check of every pair would,
   * overlaps before conflicts, but in time linear in the paths' total length: each path is walked
   * down a trie of the paths before it (a pairwise check took 279 ms for a 4 KB projection).
   */
  checkTargets(paths: readonly DocumentPath[]): void {
    const root = new TargetNode(0);
    let overlap: [number, number] | undefined;
    let conflict: [number, number] | undefined;
    const earlier = (pair: [number, number] | undefined, i: number, j: number): [number, number] | undefined =>
      pair === undefined || i < pair[0] ? [i, j] : pair; // j only grows, so the first j for an i is kept
    for (let j = 0; j < paths.length; j++) {
      const path = paths[j]!;
      let node = root;
      let overlapsWith = Infinity;
      let conflictsWith = Infinity;
      for (let k = 0; k < path.length; k++) {
        const e = path[k]!;
        // Earlier paths that leave this node by an element of the other kind conflict with this one.
        conflictsWith = Math.min(conflictsWith, e.kind === 'name' ? node.firstIndexChild : node.firstNameChild);
        if (e.kind === 'name' && node.firstNameChild === Infinity) node.firstNameChild = j;
        if (e.kind === 'index' && node.firstIndexChild === Infinity) node.firstIndexChild = j;
        const key = e.kind === 'name' ? `n${e.name}` : `i${e.index}`;
        let child = node.children.get(key);
        if (child === undefined) {
          child = new TargetNode(j);
          node.children.set(key, child);
        }
        node = child;
        // An earlier path ending here is a proper prefix of this one; at the end, any earlier path
        // through here (the node's first) has this one as a prefix, or equals it.
        if (k < path.length - 1 && node.end < j) overlapsWith = Math.min(overlapsWith, node.end);
      }
      if (node.first < j) overlapsWith = Math.min(overlapsWith, node.first);
      if (node.end === Infinity) node.end = j;
      if (overlapsWith !== Infinity) overlap = earlier(overlap, overlapsWith, j);
      if (conflictsWith !== Infinity) conflict = earlier(conflict, conflictsWith, j);
    }
    if (overlap !== undefined) {
      const [a, b] = [paths[overlap[0]]!, paths[overlap[1]]!];
      this.defer(RANK_STRUCTURE, `Two document paths overlap with each other; must remove or rewrite one of these paths; path one: ${formatPath(a)}, path two: ${formatPath(b)}`);
    } else if (conflict !== undefined) {
      const [a, b] = [paths[conflict[0]]!, paths[conflict[1]]!];
      this.defer(RANK_STRUCTURE, `Two document paths conflict with each other; must remove or rewrite one of these paths; path one: ${formatPath(a)}, path two: ${formatPath(b)}`);
    }
  }

  // -- projections --

  parseProjection(): DocumentPath[] {
    const paths: DocumentPath[] = [this.parsePath()];
    while (this.isPunct(',')) {
      this.pos++;
      paths.push(this.parsePath());
    }
    if (this.peek().kind !== 'eof') this.fail();
    this.checkTargets(paths);
    return paths;
  }
}

/** A trie node of checkTargets: indexes are of the paths in their order; Infinity is none. */
class TargetNode {
  readonly children = new Map<string, TargetNode>();
  /** The first path that ends here. */
  end = Infinity;
  /** The first path that leaves here by a name, and by an index. */
  firstNameChild = Infinity;
  firstIndexChild = Infinity;
  /** The first path through (or ending at) this node: the one that made it. */
  constructor(readonly first: number) {}
}

function elementsEqual(a: PathElement, b: PathElement): boolean {
  return a.kind === 'name' ? b.kind === 'name' && a.name === b.name : b.kind === 'index' && a.index === b.index;
}

export function pathsEqual(a: DocumentPath, b: DocumentPath): boolean {
  return a.length === b.length && a.every((e, i) => elementsEqual(e, b[i]!));
}

/** The type an operand certainly has, if known before evaluation. */
function staticType(o: Operand): AttributeType | undefined {
  if (o.kind === 'value') return o.value.type;
  if (o.kind === 'size') return 'N';
  return undefined;
}

function updateStaticType(o: UpdateOperand): AttributeType | undefined {
  if (o.kind === 'value') return o.value.type;
  if (o.kind === 'list_append') return 'L';
  return undefined;
}

/** Order of two scalars of one type (N numerically, S by code point of UTF-8, B bytewise); 0 for other types. */
export function compareScalars(a: AttributeValue, b: AttributeValue): number {
  if (a.type === 'N' && b.type === 'N') return compareDecimal(parseDecimal(a.value), parseDecimal(b.value));
  if (a.type === 'S' && b.type === 'S') return Buffer.compare(Buffer.from(a.value, 'utf8'), Buffer.from(b.value, 'utf8'));
  if (a.type === 'B' && b.type === 'B') return Buffer.compare(a.value, b.value);
  return 0;
}

// ---- entry points ----

/** Parses a ConditionExpression or FilterExpression. */
export function parseCondition(text: string, params: ExpressionParams, usage: ExpressionUsage, kind: 'ConditionExpression' | 'FilterExpression' = 'ConditionExpression'): Condition {
  const p = new Parser(kind, text, params, usage);
  const condition = p.parseCondition();
  p.finish();
  return condition;
}

/** Parses an UpdateExpression. */
export function parseUpdate(text: string, params: ExpressionParams, usage: ExpressionUsage): ParsedUpdate {
  const p = new Parser('UpdateExpression', text, params, usage);
  const update = p.parseUpdate();
  p.finish();
  return update;
}

/** Parses a ProjectionExpression into its paths, in order. */
export function parseProjection(text: string, params: ExpressionParams, usage: ExpressionUsage): readonly DocumentPath[] {
  const p = new Parser('ProjectionExpression', text, params, usage);
  const paths = p.parseProjection();
  p.finish();
  return paths;
}

/** Flattens the AND chain of a key condition into its conditions, refusing other operators. */
function keyConditionParts(c: Condition, out: Condition[]): void {
  if (c.kind === 'and') {
    keyConditionParts(c.left, out);
    keyConditionParts(c.right, out);
    return;
  }
  if (c.kind === 'or' || c.kind === 'not') throw validationError(`Invalid operator used in KeyConditionExpression: ${c.kind.toUpperCase()}`);
  if (c.kind === 'in') throw validationError('Invalid operator used in KeyConditionExpression: IN');
  if (c.kind === 'compare' && c.op === '<>') throw validationError('Invalid operator used in KeyConditionExpression: <>');
  if (c.kind !== 'compare' && c.kind !== 'between' && c.kind !== 'begins_with') {
    throw validationError(`Invalid operator used in KeyConditionExpression: ${c.kind}`);
  }
  out.push(c);
}

const FLIPPED: { readonly [op in Exclude<Comparator, '<>'>]: Exclude<Comparator, '<>'> } = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function keyAttributeOf(o: Operand): string {
  if (o.kind !== 'path') throw validationError('Invalid KeyConditionExpression: Query key condition not supported');
  const head = o.path[0]!;
  if (o.path.length !== 1 || head.kind !== 'name') {
    throw validationError('Key condition may only contain top-level attributes; nested attribute paths are not supported');
  }
  return head.name;
}

function keyValueOf(o: Operand): AttributeValue {
  if (o.kind !== 'value') throw validationError('Invalid KeyConditionExpression: Query key condition not supported');
  return o.value;
}

/** One condition of a KeyConditionExpression, on one top-level attribute, before the key schema is known. */
export interface KeyConditionPart {
  readonly name: string;
  readonly condition: SortKeyCondition;
}

/**
 * Parses a KeyConditionExpression without the table's key schema (a Query is parsed before its
 * table is looked up): one or two conditions joined by AND, each =, <, <=, >, >=, BETWEEN or
 * begins_with on a distinct top-level attribute. bindKeyCondition checks them against the schema.
 */
export function parseKeyConditionParts(text: string, params: ExpressionParams, usage: ExpressionUsage): readonly KeyConditionPart[] {
  const p = new Parser('KeyConditionExpression', text, params, usage);
  const condition = p.parseCondition();
  p.finish();
  const conditions: Condition[] = [];
  keyConditionParts(condition, conditions);
  if (conditions.length > 2) throw validationError('Conditions can be of length 1 or 2 only');
  const parts: KeyConditionPart[] = [];
  for (const part of conditions) {
    let name: string;
    let sortCondition: SortKeyCondition;
    if (part.kind === 'compare') {
      const op = part.op as Exclude<Comparator, '<>'>;
      const pathOnLeft = part.left.kind === 'path';
      name = keyAttributeOf(pathOnLeft ? part.left : part.right);
      const value = keyValueOf(pathOnLeft ? part.right : part.left);
      sortCondition = { kind: 'compare', op: pathOnLeft ? op : FLIPPED[op], value };
    } else if (part.kind === 'between') {
      name = keyAttributeOf(part.operand);
      sortCondition = { kind: 'between', low: keyValueOf(part.low), high: keyValueOf(part.high) };
    } else if (part.kind === 'begins_with') {
      name = keyAttributeOf(part.operand);
      sortCondition = { kind: 'begins_with', prefix: keyValueOf(part.argument) };
    } else {
      throw validationError('Invalid KeyConditionExpression: Query key condition not supported');
    }
    if (parts.some((q) => q.name === name)) throw validationError('KeyConditionExpressions must only contain one condition per key');
    parts.push({ name, condition: sortCondition });
  }
  return parts;
}

/**
 * Binds parsed key conditions to a table's key schema: an equality on the hash key, optionally
 * one condition on the range key; a condition on any other attribute is refused.
 */
export function bindKeyCondition(parts: readonly KeyConditionPart[], schema: KeySchema): KeyCondition {
  let hashValue: AttributeValue | undefined;
  let sort: { name: string; condition: SortKeyCondition } | undefined;
  for (const { name, condition } of parts) {
    if (name === schema.hashName) {
      if (condition.kind !== 'compare' || condition.op !== '=') throw validationError('Query key condition not supported');
      hashValue = condition.value;
    } else if (name === schema.rangeName) {
      sort = { name, condition };
    } else {
      throw validationError(`Query condition missed key schema element: ${schema.rangeName ?? schema.hashName}`);
    }
  }
  if (hashValue === undefined) throw validationError(`Query condition missed key schema element: ${schema.hashName}`);
  return sort === undefined ? { hashName: schema.hashName, hashValue } : { hashName: schema.hashName, hashValue, sort };
}

/**
 * Parses a KeyConditionExpression against a table's key schema: an equality on the hash key,
 * optionally AND one condition (=, <, <=, >, >=, BETWEEN, begins_with) on the range key.
 */
export function parseKeyCondition(text: string, params: ExpressionParams, usage: ExpressionUsage, schema: KeySchema): KeyCondition {
  return bindKeyCondition(parseKeyConditionParts(text, params, usage), schema);
}

/** The expressions of one request, parsed together so unused placeholders are judged over all of them. */
export interface RequestExpressions {
  readonly condition?: Condition;
  readonly filter?: Condition;
  readonly update?: ParsedUpdate;
  readonly projection?: readonly DocumentPath[];
  readonly keyCondition?: KeyCondition;
  /** The key condition before binding: always set when the request has a KeyConditionExpression. */
  readonly keyConditionParts?: readonly KeyConditionPart[];
}

export interface RequestExpressionTexts {
  readonly ConditionExpression?: string;
  readonly FilterExpression?: string;
  readonly UpdateExpression?: string;
  readonly ProjectionExpression?: string;
  readonly KeyConditionExpression?: string;
  readonly ExpressionAttributeNames?: unknown;
  readonly ExpressionAttributeValues?: unknown;
}

/**
 * Parses every expression a request carries with its placeholders, then refuses placeholders
 * none of them used. A KeyConditionExpression is bound to `keySchema` when one is given;
 * without it, only `keyConditionParts` is set and the caller binds later (bindKeyCondition).
 */
export function parseRequestExpressions(request: RequestExpressionTexts, keySchema?: KeySchema): RequestExpressions {
  const params: ExpressionParams = {
    names: parseExpressionAttributeNames(request.ExpressionAttributeNames),
    values: parseExpressionAttributeValues(request.ExpressionAttributeValues),
  };
  const usage = newUsage();
  const out: { -readonly [K in keyof RequestExpressions]: RequestExpressions[K] } = {};
  if (request.KeyConditionExpression !== undefined) {
    out.keyConditionParts = parseKeyConditionParts(request.KeyConditionExpression, params, usage);
    if (keySchema !== undefined) out.keyCondition = bindKeyCondition(out.keyConditionParts, keySchema);
  }
  if (request.UpdateExpression !== undefined) out.update = parseUpdate(request.UpdateExpression, params, usage);
  if (request.ConditionExpression !== undefined) out.condition = parseCondition(request.ConditionExpression, params, usage, 'ConditionExpression');
  if (request.FilterExpression !== undefined) out.filter = parseCondition(request.FilterExpression, params, usage, 'FilterExpression');
  if (request.ProjectionExpression !== undefined) out.projection = parseProjection(request.ProjectionExpression, params, usage);
  assertAllUsed(params, usage);
  return out;
}
