// The pure parts of `npm run bench:dynamo` (bench/dynamo-compare.ts): the DynamoDB API's requests
// beside /kv's, driven by wrk as bench/loadgen/wrk.ts drives /kv. One Lua script per phase:
// /kv blind PUT and GET of user<i> (as wrk.ts's dynakv script), PutItem over an existing item,
// GetItem and Query with ConsistentRead, each on a uniform random key among the loaded ones.
// Every script checks every answer in response(): a status outside 2xx, and a 2xx GetItem with no
// Item or Query without all of its partition's items, is counted (wrk itself counts only statuses
// above 399) and the first few such answers are kept; done() prints wrk.ts's result line plus
// these counts and samples on tagged lines. Also the items' shape (item i: pk "p<i/10>", sk i%10),
// the request bodies the loader sends, the order of the phases in a round, and medians.
import { WRK_RESULT_LINE_LUA, type WrkProcessResult } from './wrk.ts';

/** The tag of done()'s line with the answers' checks (JSON). */
export const WRK_CHECK_TAG = 'DYNAKV_WRK_CHECK';
/** The tag of each kept failed answer (status, then the body, one line). */
export const WRK_SAMPLE_TAG = 'DYNAKV_WRK_SAMPLE';
/** Failed answers each wrk process keeps. */
export const SAMPLES_PER_PROCESS = 3;
/** Characters of a failed answer's body kept. */
const SAMPLE_BODY_CHARS = 300;

/** Items per partition: a Query reads them all. */
export const ITEMS_PER_PARTITION = 10;
export const TABLE_NAME = 'Bench';
export const DYNAMO_TARGET_PREFIX = 'DynamoDB_20120810.';
export const DYNAMO_CONTENT_TYPE = 'application/x-amz-json-1.0';
/** /kv keys are KV_PREFIX0..KV_PREFIX<keys-1>, as the existing benchmark loads them. */
export const KV_PREFIX = 'user';

export type PhaseKind = 'kv-put' | 'put-item' | 'kv-get' | 'get-item' | 'query';
export const PHASE_KINDS: readonly PhaseKind[] = ['kv-put', 'put-item', 'kv-get', 'get-item', 'query'];

export const PHASE_LABELS: Record<PhaseKind, string> = {
  'kv-put': '/kv PUT (blind)',
  'put-item': 'PutItem (overwrite)',
  'kv-get': '/kv GET (R=2)',
  'get-item': 'GetItem (ConsistentRead)',
  query: 'Query (ConsistentRead, 10 items)',
};

/** Each DynamoDB phase beside its /kv peer; Query has none. */
export const PAIRS: readonly (readonly [kv: PhaseKind, dynamo: PhaseKind])[] = [['kv-put', 'put-item'], ['kv-get', 'get-item']];

/**
 * The phases of round `round` (0-based): the puts' pair, the gets' pair, then Query; /kv first in
 * even rounds and the DynamoDB side first in odd ones, so slow drift over the run (sibling growth,
 * LMDB growth, others' load) falls on both sides alike.
 */
export function roundOrder(round: number): PhaseKind[] {
  const out: PhaseKind[] = [];
  for (const [kv, dynamo] of PAIRS) out.push(...(round % 2 === 0 ? [kv, dynamo] : [dynamo, kv]));
  out.push('query');
  return out;
}

/** Item i's key: partition floor(i/10), sort key i mod 10. */
export function itemKeyOf(i: number): { readonly pk: string; readonly sk: number } {
  return { pk: `p${Math.floor(i / ITEMS_PER_PARTITION)}`, sk: i % ITEMS_PER_PARTITION };
}

/** CreateTable's body for the benchmark's table: hash pk (S), range sk (N). */
export function createTableBody(): string {
  return JSON.stringify({
    TableName: TABLE_NAME,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
    BillingMode: 'PAY_PER_REQUEST',
  });
}

/** PutItem's body for item i with attribute v = value (what the loader sends and the Lua builds). */
export function putItemBody(i: number, value: string): string {
  const { pk, sk } = itemKeyOf(i);
  return JSON.stringify({ TableName: TABLE_NAME, Item: { pk: { S: pk }, sk: { N: String(sk) }, v: { S: value } } });
}

/** The headers of a DynamoDB request for `operation` (an --insecure node needs no signature). */
export function dynamoHeaders(operation: string): Record<string, string> {
  return { 'X-Amz-Target': `${DYNAMO_TARGET_PREFIX}${operation}`, 'Content-Type': DYNAMO_CONTENT_TYPE };
}

export interface DynamoScriptParams {
  readonly phase: PhaseKind;
  /** /kv keys and DynamoDB items loaded; a multiple of ITEMS_PER_PARTITION. */
  readonly keys: number;
  /** The value written (/kv PUT) or attribute v (PutItem): letters and digits only (wrk.ts wrkValue). */
  readonly value: string;
}

function luaTable(headers: Record<string, string>): string {
  return `{ ${Object.entries(headers).map(([k, v]) => `["${k}"] = "${v}"`).join(', ')} }`;
}

/**
 * The Lua script of one phase. init(args) seeds math.random from args[1] (wrk.ts wrkArgs gives
 * each process its own seed after `--`).
 */
export function dynamoScript(p: DynamoScriptParams): string {
  if (!Number.isInteger(p.keys) || p.keys < ITEMS_PER_PARTITION || p.keys % ITEMS_PER_PARTITION !== 0) {
    throw new RangeError(`keys must be a positive multiple of ${ITEMS_PER_PARTITION}, got ${p.keys}`);
  }
  if (!/^[A-Za-z0-9]*$/.test(p.value)) throw new RangeError('the value must be letters and digits (it is put in Lua and JSON strings as is)');
  const lines = [
    `-- Generated by dynakv's bench/loadgen/wrk-dynamo.ts: ${PHASE_LABELS[p.phase]}, ${p.keys} keys chosen uniformly.`,
    `local KEYS = ${p.keys}`,
    `local PER_PARTITION = ${ITEMS_PER_PARTITION}`,
    `local VALUE = "${p.value}"`,
  ];
  switch (p.phase) {
    case 'kv-put':
      lines.push(
        '-- Blind PUT /kv/<key> (no X-Dynakv-Context), as bench/loadgen/wrk.ts.',
        'local headers = { ["Content-Type"] = "application/octet-stream" }',
        'local EXPECT = nil',
        `request = function() return wrk.format("PUT", "/kv/${KV_PREFIX}" .. math.random(0, KEYS - 1), headers, VALUE) end`,
      );
      break;
    case 'kv-get':
      lines.push(
        '-- GET /kv/<key>: the node\'s default read quorum (R=2).',
        'local headers = {}',
        'local EXPECT = nil',
        `request = function() return wrk.format("GET", "/kv/${KV_PREFIX}" .. math.random(0, KEYS - 1), headers) end`,
      );
      break;
    case 'put-item':
      lines.push(
        '-- PutItem over an existing item (no condition, no ReturnValues).',
        `local headers = ${luaTable(dynamoHeaders('PutItem'))}`,
        'local EXPECT = nil',
        'request = function()',
        '  local i = math.random(0, KEYS - 1)',
        `  return wrk.format("POST", "/", headers, '{"TableName":"${TABLE_NAME}","Item":{"pk":{"S":"p' .. math.floor(i / PER_PARTITION) .. '"},"sk":{"N":"' .. (i % PER_PARTITION) .. '"},"v":{"S":"' .. VALUE .. '"}}}')`,
        'end',
      );
      break;
    case 'get-item':
      lines.push(
        '-- GetItem with ConsistentRead: R replicas (R=2, as /kv GET); an answer without Item is a miss.',
        `local headers = ${luaTable(dynamoHeaders('GetItem'))}`,
        'local EXPECT = \'"Item":\'',
        'request = function()',
        '  local i = math.random(0, KEYS - 1)',
        `  return wrk.format("POST", "/", headers, '{"TableName":"${TABLE_NAME}","Key":{"pk":{"S":"p' .. math.floor(i / PER_PARTITION) .. '"},"sk":{"N":"' .. (i % PER_PARTITION) .. '"}},"ConsistentRead":true}')`,
        'end',
      );
      break;
    case 'query':
      lines.push(
        '-- Query of one partition with ConsistentRead: all of its items, or it is a miss.',
        `local headers = ${luaTable(dynamoHeaders('Query'))}`,
        'local EXPECT = \'"Count":\' .. PER_PARTITION .. \',\'',
        'request = function()',
        '  local p = math.random(0, KEYS / PER_PARTITION - 1)',
        `  return wrk.format("POST", "/", headers, '{"TableName":"${TABLE_NAME}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p' .. p .. '"}},"ConsistentRead":true}')`,
        'end',
      );
      break;
  }
  lines.push(
    'init = function(args)',
    '  math.randomseed(tonumber(args[1]) or os.time())',
    'end',
    '-- Every answer checked (globals of the thread\'s state, read by done() through thread:get).',
    'non2xx = 0',
    'misses = 0',
    'samples = {}',
    'local function keep(status, body)',
    `  if #samples < ${SAMPLES_PER_PROCESS} then`,
    `    samples[#samples + 1] = status .. " " .. (body or ""):sub(1, ${SAMPLE_BODY_CHARS}):gsub("[^%w%p ]", "?")`,
    '  end',
    'end',
    'response = function(status, headers, body)',
    '  if status < 200 or status > 299 then',
    '    non2xx = non2xx + 1',
    '    keep(status, body)',
    '  elseif EXPECT ~= nil and not (body or ""):find(EXPECT, 1, true) then',
    '    misses = misses + 1',
    '    keep(status, body)',
    '  end',
    'end',
    'local threads = {}',
    'setup = function(thread) threads[#threads + 1] = thread end',
    '-- wrk.ts\'s result line (requests, latency percentiles in us, errors, this process\'s CPU ticks), then the checks.',
    'done = function(summary, latency, requests)',
    ...WRK_RESULT_LINE_LUA,
    '  local bad, missed = 0, 0',
    '  for _, t in ipairs(threads) do',
    '    bad = bad + (t:get("non2xx") or 0)',
    '    missed = missed + (t:get("misses") or 0)',
    '    for _, s in ipairs(t:get("samples") or {}) do',
    `      io.write("${WRK_SAMPLE_TAG} " .. s .. "\\n")`,
    '    end',
    '  end',
    `  io.write(string.format('${WRK_CHECK_TAG} {"non2xx":%d,"misses":%d}\\n', bad, missed))`,
    'end',
    '',
  );
  return lines.join('\n');
}

/** What response() found in one wrk process's answers. */
export interface WrkChecks {
  /** Answers with a status outside 2xx. */
  readonly non2xx: number;
  /** 2xx answers without what the phase expects (GetItem: an Item; Query: all 10 items). */
  readonly misses: number;
  /** The first failed answers: status, a space, the start of the body. */
  readonly samples: readonly string[];
}

/** Parses done()'s check line and sample lines; throws if the check line is missing or malformed. */
export function parseWrkChecks(stdout: string): WrkChecks {
  const lines = stdout.split('\n');
  const line = lines.find((l) => l.startsWith(`${WRK_CHECK_TAG} `));
  if (line === undefined) throw new Error(`wrk printed no ${WRK_CHECK_TAG} line (did the script's done() run?): ${JSON.stringify(stdout.slice(-300))}`);
  const raw = JSON.parse(line.slice(WRK_CHECK_TAG.length + 1)) as Record<string, unknown>;
  const num = (field: string): number => {
    const v = raw[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`wrk checks: ${field} is not a count in ${line}`);
    return v;
  };
  const samples = lines.filter((l) => l.startsWith(`${WRK_SAMPLE_TAG} `)).map((l) => l.slice(WRK_SAMPLE_TAG.length + 1));
  return { non2xx: num('non2xx'), misses: num('misses'), samples };
}

/** One phase's figures over its wrk processes, errors as this benchmark counts them. */
export interface DynamoPhaseFigures {
  /** 2xx answers that passed the phase's check, per second, summed over the processes. */
  readonly opsPerSec: number;
  readonly successful: number;
  /** Max over the wrk processes (each one's percentile of its own requests). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Statuses outside 2xx, misses, and wrk's socket errors and timeouts (no answer). */
  readonly non2xx: number;
  readonly misses: number;
  readonly socketErrors: number;
  readonly errors: number;
  readonly samples: readonly string[];
}

export function phaseFigures(processes: readonly { readonly wrk: WrkProcessResult; readonly checks: WrkChecks }[]): DynamoPhaseFigures {
  if (processes.length === 0) throw new Error('assertion: no wrk processes to combine');
  const sum = (f: (p: (typeof processes)[number]) => number) => processes.reduce((a, p) => a + f(p), 0);
  const max = (f: (r: WrkProcessResult) => number) => Math.max(...processes.map((p) => f(p.wrk)));
  const good = (p: (typeof processes)[number]) => Math.max(0, p.wrk.requests - p.checks.non2xx - p.checks.misses);
  const non2xx = sum((p) => p.checks.non2xx);
  const misses = sum((p) => p.checks.misses);
  const socketErrors = sum((p) => p.wrk.errors.connect + p.wrk.errors.read + p.wrk.errors.write + p.wrk.errors.timeout);
  return {
    opsPerSec: sum((p) => good(p) / p.wrk.durationS),
    successful: sum(good),
    p50Ms: max((r) => r.p50Ms),
    p99Ms: max((r) => r.p99Ms),
    p999Ms: max((r) => r.p999Ms),
    maxMs: max((r) => r.maxMs),
    non2xx,
    misses,
    socketErrors,
    errors: non2xx + misses + socketErrors,
    samples: processes.flatMap((p) => p.checks.samples),
  };
}

/** The median (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}
