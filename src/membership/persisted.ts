// What membership keeps in the meta space (the table and its change log) and how it is read
// back: the bytes become typed records here or the node refuses to start with what is wrong.
// The table is state: one bad record fails the load. The log is history: bad entries are
// dropped (and counted) so a damaged log never keeps a node down.
import { parseChangeLogEntry, parseMemberRecords, type ChangeLogEntry, type MemberRecord, type Parsed } from './table.ts';

export const META_TABLE = 'membership-table';
export const META_LOG = 'membership-log';

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

export function encodeTable(records: readonly MemberRecord[]): Uint8Array {
  // Transfer progress belongs to a running transfer, which a restart ends.
  return Buffer.from(JSON.stringify(records.map((r) => ({ ...r, transfer: null }))));
}

export function encodeLog(entries: readonly ChangeLogEntry[]): Uint8Array {
  return Buffer.from(JSON.stringify(entries));
}

/** The persisted table, or what is wrong with it (no duplicate ids). */
export function decodeTable(bytes: Uint8Array): Parsed<MemberRecord[]> {
  const json = parseJson(bytes);
  if (!json.ok) return json;
  if (!Array.isArray(json.value)) return { ok: false, problem: 'not a list of records' };
  const parsed = parseMemberRecords(json.value.map(withEpochDefault));
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
