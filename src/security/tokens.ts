// Bearer tokens for clients: `dkv1.<name>.<role>.<mac>`, where mac is HMAC-SHA256 under the
// cluster secret's 'token' key (cluster-secret.ts) over the version, name and role. Any node of
// the cluster can verify one without state; a token does not expire and cannot be revoked on
// its own (rotate the cluster secret for that). Pure: no files, no clock, no randomness.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from './cluster-secret.ts';

/** What a credential may do: `admin` may also change membership; `user` reads and writes keys. */
export type ClientRole = 'admin' | 'user';
export const CLIENT_ROLES: readonly ClientRole[] = ['admin', 'user'];

export function isClientRole(x: unknown): x is ClientRole {
  return x === 'admin' || x === 'user';
}

/** A client name: the node id rule (1-64 letters, digits, `_`, `.`, `-`), safe in file names and logs. */
export const CLIENT_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const CLIENT_NAME_RULE = '1-64 letters, digits, _ . -';

export function isClientName(x: unknown): x is string {
  return typeof x === 'string' && CLIENT_NAME_PATTERN.test(x);
}

const TOKEN_VERSION = 'dkv1';
/** base64url of a 32-byte HMAC-SHA256, unpadded. */
const MAC_CHARS = 43;
/** Longest well-formed token: version, a 64-character name, the longest role, the MAC and 3 dots. Anything longer is refused unread. */
export const tokenCharsMax = TOKEN_VERSION.length + 64 + 5 + MAC_CHARS + 3;
// The name may contain dots, the role and MAC cannot: the last two dots split unambiguously.
const TOKEN_PATTERN = /^dkv1\.([A-Za-z0-9_.-]{1,64})\.(admin|user)\.([A-Za-z0-9_-]{43})$/;

export interface TokenIdentity {
  readonly name: string;
  readonly role: ClientRole;
}

/** Why a token was refused: not a token at all (or too long), or a token this cluster did not mint (or one altered since). */
export type TokenErrorCode = 'TOKEN_MALFORMED' | 'TOKEN_INVALID';

export type TokenCheck = ({ readonly ok: true } & TokenIdentity) | { readonly ok: false; readonly code: TokenErrorCode };

function macOf(secret: Uint8Array, name: string, role: ClientRole): Buffer {
  // Newline-separated: neither field can contain one, so no two (name, role) pairs sign the same bytes.
  return createHmac('sha256', deriveKey(secret, 'token')).update(`${TOKEN_VERSION}\n${name}\n${role}`).digest();
}

/** A token for client `name` with `role`, valid on every node holding `secret`. Throws on a bad name or role (programmer or operator error, checked before anything is written). */
export function mintToken(secret: Uint8Array, name: string, role: ClientRole): string {
  if (!isClientName(name)) throw new RangeError(`client name must be ${CLIENT_NAME_RULE}, got ${JSON.stringify(name)}`);
  if (!isClientRole(role)) throw new RangeError(`client role must be admin or user, got ${JSON.stringify(role)}`);
  return `${TOKEN_VERSION}.${name}.${role}.${macOf(secret, name, role).toString('base64url')}`;
}

/** The token's name and role without checking its MAC; undefined if it is not shaped like a token. For a client reading its own token file. */
export function parseTokenShape(token: unknown): TokenIdentity | undefined {
  if (typeof token !== 'string' || token.length > tokenCharsMax) return undefined;
  const match = TOKEN_PATTERN.exec(token);
  if (match === null) return undefined;
  return { name: match[1]!, role: match[2] as ClientRole };
}

/** Checks a token presented by a client (hostile input of any type and length). */
export function verifyToken(secret: Uint8Array, token: unknown): TokenCheck {
  if (typeof token !== 'string' || token.length > tokenCharsMax) return { ok: false, code: 'TOKEN_MALFORMED' };
  const match = TOKEN_PATTERN.exec(token);
  if (match === null) return { ok: false, code: 'TOKEN_MALFORMED' };
  const name = match[1]!;
  const role = match[2] as ClientRole;
  const presented = Buffer.from(match[3]!, 'base64url');
  // 43 base64url characters always decode to 32 bytes, but the last one carries 2 spare bits:
  // re-encoding rejects the 3 other spellings of the same MAC, so exactly one token string is valid.
  if (presented.length !== 32 || presented.toString('base64url') !== match[3]) return { ok: false, code: 'TOKEN_MALFORMED' };
  if (!timingSafeEqual(presented, macOf(secret, name, role))) return { ok: false, code: 'TOKEN_INVALID' };
  return { ok: true, name, role };
}
