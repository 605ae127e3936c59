// The rules for names and addresses that cross a boundary (HTTP, peer frames, gossip, files read
// back): node ids, HOST:PORT addresses and the numbers records carry. One place, so every door
// checks the same thing; code past the boundary relies on these and does not re-check.
import type { NodeId } from '../env/transport.ts';

/**
 * A node id: 1-64 letters, digits, `_`, `.`, `-` (so ids are safe in logs, paths and keys), but
 * none of RESERVED_NODE_IDS: `.` and `..` name directories, and `__proto__`, `constructor`,
 * `prototype` are special as keys of JavaScript objects, which ids become in JSON answers
 * (clocks, hint counts, activity) that the dashboard and scripts index by id.
 */
export const RESERVED_NODE_IDS: readonly string[] = ['.', '..', '__proto__', 'constructor', 'prototype'];
export const NODE_ID_PATTERN = /^(?!(?:\.|\.\.|__proto__|constructor|prototype)$)[A-Za-z0-9_.-]{1,64}$/;
export const NODE_ID_RULE = '1-64 letters, digits, _ . - (not . .. __proto__ constructor prototype)';

export function isNodeId(x: unknown): x is NodeId {
  return typeof x === 'string' && NODE_ID_PATTERN.test(x);
}

/** Longest host name (DNS limit) accepted in an address. */
export const HOST_CHARS_MAX = 253;
/** Hosts: DNS names and IPv4 literals (letters, digits, `.`, `-`, `_`); no spaces, no control characters. */
const HOST_PATTERN = /^[A-Za-z0-9_.-]{1,253}$/;

/** Parses HOST:PORT (port 1..65535); undefined if it is not one. */
export function parseHostPort(text: unknown): { host: string; port: number } | undefined {
  if (typeof text !== 'string' || text.length > HOST_CHARS_MAX + 6) return undefined;
  const match = /^([^:\s]+):(\d{1,5})$/.exec(text);
  if (match === null || !HOST_PATTERN.test(match[1]!)) return undefined;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? { host: match[1]!, port } : undefined;
}

export function isHostPort(x: unknown): x is string {
  return parseHostPort(x) !== undefined;
}

/** A wall-clock or duration in ms: finite and within the safe integer range. */
export function isTimeMs(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER;
}

/** A counter or count: a safe integer >= 0. */
export function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}
