// The DynamoDB API's tables: their definitions stored as replicated values under reserved keys
// (item-keys.ts tableKey), written and read through the node's quorums like any key, so they
// survive restarts and reach every node (a node reads a definition with a quorum read: once
// CreateTable is acknowledged by W replicas, every node's next read finds it). Each table has a
// random id that its item keys carry, so a table created again under a deleted one's name never
// sees the old items. Definitions are cached per node for TABLE_CACHE_MS (hits only): a table
// deleted on another node may still take writes here for that long (into the old id's space,
// which nothing reads again). So that no write to a *new* table of the name goes there, a
// deleted table leaves a marker (its definition with `deletedAtMs`) and its name cannot be
// created again for RECREATE_AFTER_DELETE_MS, well past every node's cache.
import type { NodeFrontDoor } from '../node/front-door.ts';
import type { Sibling } from '../version/siblings.ts';
import type { ScalarType } from './attribute-value.ts';
import { DynamoError } from './errors.ts';
import { isTableId, tableKey, tableKeysRange, tableNameOfKey } from './item-keys.ts';
import { TABLE_CONTENT_TYPE } from './item-record.ts';
import { everyRange, readMergedPage } from './replica-reads.ts';
import { KEY_ATTRIBUTE_NAME_CHARS_MAX } from './table-requests.ts';
import type { KeyAttribute, TableSchema } from './table-schema.ts';

/** How long a node reuses a table definition it read, in ms. */
export const TABLE_CACHE_MS = 1_000;
/** How long after a DeleteTable its name cannot be created again: the cache, and room for clock skew between nodes. */
export const RECREATE_AFTER_DELETE_MS = 10_000;
/** Largest stored definition read back: names are at most 255 characters each (key names at most 6 bytes of JSON per character). */
const DEFINITION_BYTES_MAX = 4 * 1024;
/** Tables one ListTables walk reads at most (every definition is small; DynamoDB's default quota is 2,500). */
export const TABLES_LISTED_MAX = 10_000;
const TABLE_NAME_PATTERN = /^[a-zA-Z0-9_.-]{3,255}$/;

/** A table as stored: its schema and the id its item keys carry. */
export interface StoredTable extends TableSchema {
  readonly id: string;
  /** Set on the marker a DeleteTable leaves: when it was deleted (the deleting node's wall clock). */
  readonly deletedAtMs?: number;
}

function corrupt(why: string): DynamoError {
  return new DynamoError('InternalServerError', `a stored table definition does not decode (${why})`);
}

function keyAttributeOf(raw: unknown): KeyAttribute | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  // Counted as CreateTable counts it (characters, not bytes), so every name it accepted decodes.
  if (typeof r.name !== 'string' || r.name.length === 0 || r.name.length > KEY_ATTRIBUTE_NAME_CHARS_MAX) return undefined;
  if (r.type !== 'S' && r.type !== 'N' && r.type !== 'B') return undefined;
  return { name: r.name, type: r.type as ScalarType };
}

export function encodeTable(table: StoredTable): Uint8Array {
  return Buffer.from(JSON.stringify({ v: 1, name: table.name, id: table.id, hash: table.hashKey, range: table.rangeKey ?? null, createdAtMs: table.createdAtMs, deletedAtMs: table.deletedAtMs ?? null }), 'utf8');
}

/** A stored definition read back (hostile: from disk or a peer), checked field by field. */
export function decodeTable(bytes: Uint8Array): StoredTable {
  if (bytes.length > DEFINITION_BYTES_MAX) throw corrupt('too large');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw corrupt('not an object');
  const r = raw as Record<string, unknown>;
  const hashKey = keyAttributeOf(r.hash);
  const rangeKey = r.range === null ? undefined : keyAttributeOf(r.range);
  if (r.v !== 1 || typeof r.name !== 'string' || !TABLE_NAME_PATTERN.test(r.name) || !isTableId(r.id) || hashKey === undefined) throw corrupt('bad fields');
  if (r.range !== null && rangeKey === undefined) throw corrupt('bad range key');
  if (!Number.isSafeInteger(r.createdAtMs) || (r.createdAtMs as number) < 0) throw corrupt('bad creation time');
  const deleted = r.deletedAtMs === undefined || r.deletedAtMs === null ? undefined : r.deletedAtMs;
  if (deleted !== undefined && (!Number.isSafeInteger(deleted) || (deleted as number) < 0)) throw corrupt('bad deletion time');
  const base = { name: r.name, id: r.id, hashKey, createdAtMs: r.createdAtMs as number, status: 'ACTIVE' as const, ...(deleted === undefined ? {} : { deletedAtMs: deleted as number }) };
  return rangeKey === undefined ? base : { ...base, rangeKey };
}

/**
 * The definition (or deletion marker) among a key's concurrent versions, the same on every node:
 * a table created after every concurrent marker's deletion beats the markers (it was made
 * later); among tables the earliest created wins (then the smaller id); with no such table, the
 * latest marker.
 */
export function resolveDefinition(siblings: readonly Sibling[]): StoredTable | undefined {
  const all = siblings.filter((s) => s.value !== null).map((s) => decodeTable(s.value!));
  const markers = all.filter((t) => t.deletedAtMs !== undefined);
  const lastDeletion = Math.max(-1, ...markers.map((m) => m.deletedAtMs!));
  let table: StoredTable | undefined;
  for (const t of all) {
    if (t.deletedAtMs !== undefined || t.createdAtMs <= lastDeletion) continue;
    if (table === undefined || t.createdAtMs < table.createdAtMs || (t.createdAtMs === table.createdAtMs && t.id < table.id)) table = t;
  }
  if (table !== undefined) return table;
  let marker: StoredTable | undefined;
  for (const m of markers) if (marker === undefined || m.deletedAtMs! > marker.deletedAtMs! || (m.deletedAtMs === marker.deletedAtMs && m.id < marker.id)) marker = m;
  return marker;
}

/** The table a key's versions define: none when they hold only a deletion marker (or nothing). */
export function resolveTable(siblings: readonly Sibling[]): StoredTable | undefined {
  const definition = resolveDefinition(siblings);
  return definition?.deletedAtMs === undefined ? definition : undefined;
}

export class TableCatalog {
  private readonly cache = new Map<string, { readonly table: StoredTable; readonly untilMs: number }>();

  constructor(
    private readonly front: NodeFrontDoor,
    private readonly monotonicMs: () => number,
    /** Wall clock (ms since the epoch), for deletion markers. */
    private readonly nowMs: () => number,
  ) {}

  /** The table named `name`, or undefined; a cached definition if read within TABLE_CACHE_MS. */
  async find(name: string): Promise<StoredTable | undefined> {
    const cached = this.cache.get(name);
    if (cached !== undefined && cached.untilMs > this.monotonicMs()) return cached.table;
    const { definition } = await this.read(name);
    const table = definition?.deletedAtMs === undefined ? definition : undefined;
    if (table === undefined) this.cache.delete(name);
    else this.remember(table);
    return table;
  }

  /** The table, or DynamoDB's ResourceNotFoundException. */
  async get(name: string, message: string): Promise<StoredTable> {
    const table = await this.find(name);
    if (table === undefined) throw new DynamoError('ResourceNotFoundException', message);
    return table;
  }

  /**
   * Creates a table; ResourceInUseException if a quorum read finds one of that name, or one
   * deleted less than RECREATE_AFTER_DELETE_MS ago, or if a concurrent CreateTable of the name
   * won (read back after the write: both creators then agree on one table).
   */
  async create(table: StoredTable, existsMessage: string): Promise<void> {
    const { definition, context } = await this.read(table.name);
    if (definition !== undefined && definition.deletedAtMs === undefined) throw new DynamoError('ResourceInUseException', existsMessage);
    if (definition?.deletedAtMs !== undefined) {
      const now = Math.floor(this.nowMs());
      const waitMs = definition.deletedAtMs + RECREATE_AFTER_DELETE_MS - now;
      if (waitMs > RECREATE_AFTER_DELETE_MS) {
        // Deleted "in the future": the deleting node's clock ran ahead. Restart the wait from
        // this node's now, so a skewed clock delays a name by RECREATE_AFTER_DELETE_MS at most.
        await this.front.put({ key: tableKey(table.name), value: encodeTable({ ...definition, deletedAtMs: now }), contentType: TABLE_CONTENT_TYPE, context });
      }
      if (waitMs > 0) throw new DynamoError('ResourceInUseException', `Table ${table.name} is being deleted; it can be created again in ${Math.ceil(Math.min(waitMs, RECREATE_AFTER_DELETE_MS) / 1000)} s`);
    }
    await this.front.put({ key: tableKey(table.name), value: encodeTable(table), contentType: TABLE_CONTENT_TYPE, context });
    const after = await this.read(table.name);
    if (after.definition?.id !== table.id) throw new DynamoError('ResourceInUseException', existsMessage);
  }

  /** Deletes a table (leaves its deletion marker); ResourceNotFoundException if there is none. Returns what was deleted. */
  async delete(name: string, notFoundMessage: string): Promise<StoredTable> {
    const { definition, context } = await this.read(name);
    if (definition === undefined || definition.deletedAtMs !== undefined) throw new DynamoError('ResourceNotFoundException', notFoundMessage);
    const marker: StoredTable = { ...definition, deletedAtMs: Math.max(0, Math.floor(this.nowMs())) };
    await this.front.put({ key: tableKey(name), value: encodeTable(marker), contentType: TABLE_CONTENT_TYPE, context });
    this.cache.delete(name);
    return definition;
  }

  /** Every table's name, read from a replica of every ring range. */
  async names(timeoutMs: number): Promise<string[]> {
    const ring = this.front.ring();
    if (ring === undefined) throw new DynamoError('InternalServerError', 'this node has not learned the ring yet; retry');
    const nodes = ring.nodes.map((node) => node.id);
    const names: string[] = [];
    let range: { start: string; end: string } | undefined = tableKeysRange();
    while (range !== undefined) {
      const page = await readMergedPage(this.front, nodes, range.start, range.end, false, everyRange(ring, this.front.config.n, 1), timeoutMs);
      for (const entry of page.entries) {
        const name = tableNameOfKey(entry.key);
        if (name !== undefined && resolveTable(entry.siblings) !== undefined) names.push(name);
      }
      if (names.length > TABLES_LISTED_MAX) throw new DynamoError('InternalServerError', `more than ${TABLES_LISTED_MAX} tables`);
      range = page.rest;
    }
    return names;
  }

  private async read(name: string): Promise<{ readonly definition: StoredTable | undefined; readonly context: string }> {
    const { siblings, context } = await this.front.get(tableKey(name));
    return { definition: resolveDefinition(siblings), context };
  }

  private remember(table: StoredTable): void {
    this.cache.set(table.name, { table, untilMs: this.monotonicMs() + TABLE_CACHE_MS });
  }
}
