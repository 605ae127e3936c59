// What membership keeps in the meta space (the table and its change log) and how it is read
// back: the bytes become typed records here or the node refuses to start with what is wrong.
// One key per record (META_RECORD_PREFIX + id) and one per log entry (META_LOG_PREFIX + a
// zero-padded sequence), so a change writes what changed, not the whole table and log. The
// table is state: one bad record fails the load. The log is history: bad entries are dropped
// (and counted) so a damaged log never keeps a node down. Disks from before this layout hold
// the whole table and log under META_TABLE and META_LOG; they are read, and replaced by the
// new layout at the first save.
import type { Storage } from '../env/storage.ts';
import { MEMBERS_MAX, MEMBERSHIP_COUNT_MAX, parseChangeLogEntry, parseMemberRecords, type ChangeLogEntry, type MemberRecord, type Parsed } from './table.ts';

/** The layout before one key per record: the whole table, and the whole log, each one JSON list. */
export const META_TABLE = 'membership-table';
export const META_LOG = 'membership-log';
export const META_RECORD_PREFIX = 'membership-record:';
export const META_LOG_PREFIX = 'membership-log:';
/** Digits of a log entry's sequence in its key (so keys sort as numbers). */
const LOG_SEQ_DIGITS = 15;

export function recordKey(id: string): string {
  return META_RECORD_PREFIX + id;
}

export function logKey(seq: number): string {
  return META_LOG_PREFIX + String(seq).padStart(LOG_SEQ_DIGITS, '0');
}

/** The keys under `prefix` in the meta space, with their values (the prefix ends in ':'; ';' follows it). */
function scanPrefix(storage: Storage, prefix: string): Array<{ key: string; value: Uint8Array }> {
  return [...storage.scan('meta', { start: prefix, end: prefix.slice(0, -1) + ';' })];
}

/** One record as saved: transfer progress belongs to a running transfer, which a restart ends. */
export function encodeRecord(record: MemberRecord): Uint8Array {
  return Buffer.from(JSON.stringify({ ...record, transfer: null }));
}

export function encodeLogEntry(entry: ChangeLogEntry): Uint8Array {
  return Buffer.from(JSON.stringify(entry));
}

/** What membership reads back at start. */
export interface PersistedState {
  readonly table: Parsed<MemberRecord[]>;
  /** Where the table was read from, for messages: `meta key membership-table` or `meta keys membership-record:*`. */
  readonly tableSource: string;
  readonly log: DecodedLog;
  /** The meta keys the table and log were read from: the first save replaces them all. */
  readonly readKeys: readonly string[];
  /** The sequence after the highest log key read (new entries are saved from there). */
  readonly nextLogSeq: number;
  /** Both layouts were on disk (a downgrade wrote the old one after an upgrade): the new one was read. */
  readonly bothLayouts: boolean;
}

/** Reads the table and log in either layout; `clamped` hears counts clamped to the bound. */
export function readPersisted(storage: Storage, clamped: (what: string) => void = () => {}): PersistedState {
  const recordEntries = scanPrefix(storage, META_RECORD_PREFIX);
  const logEntries = scanPrefix(storage, META_LOG_PREFIX);
  const legacyTable = storage.get('meta', META_TABLE);
  const legacyLog = storage.get('meta', META_LOG);
  const readKeys = [...recordEntries.map((e) => e.key), ...logEntries.map((e) => e.key), ...(legacyTable === undefined ? [] : [META_TABLE]), ...(legacyLog === undefined ? [] : [META_LOG])];
  let table: Parsed<MemberRecord[]> = { ok: true, value: [] };
  if (recordEntries.length > 0) {
    const records: MemberRecord[] = [];
    for (const { key, value } of recordEntries) {
      const json = parseJson(value);
      const one = json.ok ? decodeRecords([json.value], clamped) : json;
      if (!one.ok) {
        table = { ok: false, problem: `${key}: ${one.problem}` };
        break;
      }
      const record = one.value[0]!;
      if (recordKey(record.id) !== key) {
        table = { ok: false, problem: `${key} holds the record of ${record.id}` };
        break;
      }
      records.push(record);
    }
    if (table.ok) table = records.length > MEMBERS_MAX ? { ok: false, problem: `${records.length} records, more than ${MEMBERS_MAX}` } : { ok: true, value: records };
  } else if (legacyTable !== undefined) {
    table = decodeTable(legacyTable, clamped);
  }
  let log: DecodedLog = { entries: [], dropped: [] };
  let nextLogSeq = 0;
  if (logEntries.length > 0) {
    const entries: ChangeLogEntry[] = [];
    const dropped: string[] = [];
    for (const { key, value } of logEntries) {
      const seq = Number(key.slice(META_LOG_PREFIX.length));
      if (Number.isSafeInteger(seq) && seq >= nextLogSeq) nextLogSeq = seq + 1;
      const json = parseJson(value);
      const e = json.ok ? parseChangeLogEntry(withEpochDefault(json.value)) : json;
      if (e.ok) entries.push(e.value);
      else dropped.push(`${key}: ${e.problem}`);
    }
    log = { entries, dropped };
  } else if (legacyLog !== undefined) {
    log = decodeLog(legacyLog);
  }
  const tableSource = recordEntries.length > 0 || legacyTable === undefined ? `meta keys ${META_RECORD_PREFIX}*` : `meta key ${META_TABLE}`;
  const bothLayouts = recordEntries.length > 0 && legacyTable !== undefined;
  return { table, tableSource, log, readKeys, nextLogSeq, bothLayouts };
}

function parseJson(bytes: Uint8Array): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, problem: `not JSON (${(err as Error).message})` };
  }
}

/**
 * Compatibility: records and log entries written before operator epochs existed carry no
 * `epoch`; they are read as epoch 0, the epoch of the bootstrap list, so every older record
 * keeps its order by version. Only this disk path defaults it: gossip must carry the epoch.
 */
function withEpochDefault(x: unknown): unknown {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !('epoch' in x) ? { ...x, epoch: 0 } : x;
}

/**
 * Compatibility: a table saved before counts were bounded may hold an epoch, version or
 * heartbeat above MEMBERSHIP_COUNT_MAX (a hostile gossip frame could put one there). Read back,
 * such a count is clamped to the bound, so the node starts; `clamped` hears each one. Gossip
 * gets no such grace: there a count beyond the bound makes the frame malformed.
 */
function withCountsClamped(x: unknown, clamped: (what: string) => void): unknown {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return x;
  const record = { ...(x as Record<string, unknown>) };
  for (const field of ['epoch', 'version', 'heartbeat']) {
    const value = record[field];
    if (Number.isSafeInteger(value) && (value as number) > MEMBERSHIP_COUNT_MAX) {
      record[field] = MEMBERSHIP_COUNT_MAX;
      clamped(`${typeof record.id === 'string' ? record.id.slice(0, 64) : '?'}.${field}`);
    }
  }
  return record;
}

export function encodeTable(records: readonly MemberRecord[]): Uint8Array {
  // Transfer progress belongs to a running transfer, which a restart ends.
  return Buffer.from(JSON.stringify(records.map((r) => ({ ...r, transfer: null }))));
}

export function encodeLog(entries: readonly ChangeLogEntry[]): Uint8Array {
  return Buffer.from(JSON.stringify(entries));
}

/** The persisted table (legacy layout: one JSON list), or what is wrong with it (no duplicate ids); `clamped` hears clamped counts. */
export function decodeTable(bytes: Uint8Array, clamped: (what: string) => void = () => {}): Parsed<MemberRecord[]> {
  const json = parseJson(bytes);
  if (!json.ok) return json;
  if (!Array.isArray(json.value)) return { ok: false, problem: 'not a list of records' };
  return decodeRecords(json.value, clamped);
}

function decodeRecords(items: readonly unknown[], clamped: (what: string) => void): Parsed<MemberRecord[]> {
  const parsed = parseMemberRecords(items.map((x) => withCountsClamped(withEpochDefault(x), clamped)));
  if (!parsed.ok) return parsed;
  const ids = new Set<string>();
  for (const r of parsed.value) {
    if (ids.has(r.id)) return { ok: false, problem: `two records for ${r.id}` };
    ids.add(r.id);
  }
  return parsed;
}

export interface DecodedLog {
  readonly entries: ChangeLogEntry[];
  /** What was wrong with each dropped entry (index: problem). */
  readonly dropped: string[];
}

/** The persisted change log; entries that do not parse are dropped, an unreadable log is empty. */
export function decodeLog(bytes: Uint8Array): DecodedLog {
  const json = parseJson(bytes);
  if (!json.ok) return { entries: [], dropped: [`the whole log: ${json.problem}`] };
  if (!Array.isArray(json.value)) return { entries: [], dropped: ['the whole log: not a list'] };
  const entries: ChangeLogEntry[] = [];
  const dropped: string[] = [];
  for (const [i, item] of json.value.entries()) {
    const e = parseChangeLogEntry(withEpochDefault(item));
    if (e.ok) entries.push(e.value);
    else dropped.push(`entry ${i}: ${e.problem}`);
  }
  return { entries, dropped };
}
