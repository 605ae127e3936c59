// DynamoDB access keys for dynakv: their format (`DKV` + 17 base32 characters, a 40-character
// secret, like AWS's 20 and 40), making one from injected random bytes, and the keys file: a JSON
// list read back as hostile input into a Map by access key id, or a coded error. Pure: no files,
// no clock, no randomness of its own; the caller reads and writes the file (mode 0600).
import { CLIENT_NAME_RULE, isClientName, isClientRole, type ClientRole } from '../security/tokens.ts';

/** Every dynakv access key id starts with this, so one is recognisable in logs and configs. */
export const ACCESS_KEY_ID_PREFIX = 'DKV';
/** Base32 characters after the prefix: 17 x 5 = 85 random bits, 20 characters in all like AWS's ids. */
export const ACCESS_KEY_ID_RANDOM_CHARS = 17;
/** A secret is 40 base64 characters: 30 random bytes (240 bits), the length of AWS's secrets. */
export const SECRET_ACCESS_KEY_CHARS = 40;
const SECRET_RANDOM_BYTES = 30;
const ID_RANDOM_BYTES = 11; // 88 bits, of which the first 85 are used
/** Most keys one file may hold; a cluster needs a handful, and each is checked per request by map lookup. */
export const ACCESS_KEYS_MAX = 1000;
/** Longest keys file parsed: ACCESS_KEYS_MAX entries of about 150 characters, with room for spacing. */
export const ACCESS_KEYS_FILE_CHARS_MAX = 512 * 1024;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const ACCESS_KEY_ID_PATTERN = /^DKV[A-Z2-7]{17}$/;
export const ACCESS_KEY_ID_RULE = "'DKV' and 17 characters of A-Z, 2-7";
export const SECRET_ACCESS_KEY_PATTERN = /^[A-Za-z0-9+/]{40}$/;
const SECRET_ACCESS_KEY_RULE = '40 characters of A-Z, a-z, 0-9, + and /';

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** One entry of the keys file: a key, who holds it (a client name, as for tokens) and what it may do. */
export interface AccessKeyRecord extends AccessKey {
  readonly name: string;
  readonly role: ClientRole;
}

export type AccessKeysErrorCode =
  | 'KEYS_FILE_TOO_LARGE' // over ACCESS_KEYS_FILE_CHARS_MAX
  | 'KEYS_FILE_NOT_JSON' // does not parse
  | 'KEYS_FILE_NOT_LIST' // parses, but not to an array
  | 'KEYS_FILE_TOO_MANY' // more than ACCESS_KEYS_MAX entries
  | 'KEYS_ENTRY_MALFORMED' // an entry that is not an object with exactly the four fields, each by its rule
  | 'KEYS_DUPLICATE_ID'; // two entries with one access key id

export type AccessKeysParse =
  | { readonly ok: true; readonly keys: ReadonlyMap<string, AccessKeyRecord> }
  | { readonly ok: false; readonly code: AccessKeysErrorCode; readonly message: string };

export function isAccessKeyId(x: unknown): x is string {
  return typeof x === 'string' && ACCESS_KEY_ID_PATTERN.test(x);
}

export function isSecretAccessKey(x: unknown): x is string {
  return typeof x === 'string' && SECRET_ACCESS_KEY_PATTERN.test(x);
}

function randomOf(randomBytes: (length: number) => Uint8Array, length: number): Uint8Array {
  const bytes = randomBytes(length);
  // A source that returns fewer bytes than asked would silently shorten keys: a programmer error.
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new RangeError(`random source returned ${bytes?.length} bytes, asked for ${length}`);
  return bytes;
}

/**
 * A new access key from `randomBytes` (production: node:crypto's randomBytes; tests: a seeded
 * source). Base32 and base64 take whole bits, so every character is uniform.
 */
export function generateAccessKey(randomBytes: (length: number) => Uint8Array): AccessKey {
  const idBytes = randomOf(randomBytes, ID_RANDOM_BYTES);
  let id = ACCESS_KEY_ID_PREFIX;
  for (let i = 0; i < ACCESS_KEY_ID_RANDOM_CHARS; i++) {
    // Character i takes bits 5i..5i+4 of the bytes, most significant bit first.
    const bit = 5 * i;
    const pair = (idBytes[bit >> 3]! << 8) | (idBytes[(bit >> 3) + 1] ?? 0);
    id += BASE32_ALPHABET[(pair >> (11 - (bit & 7))) & 31];
  }
  const secretAccessKey = Buffer.from(randomOf(randomBytes, SECRET_RANDOM_BYTES)).toString('base64');
  return { accessKeyId: id, secretAccessKey };
}

const FIELDS = ['accessKeyId', 'secretAccessKey', 'name', 'role'] as const;

function malformed(index: number, why: string): AccessKeysParse {
  return { ok: false, code: 'KEYS_ENTRY_MALFORMED', message: `keys file entry ${index}: ${why}` };
}

/**
 * The keys of a keys file's content (hostile: any text). Each entry must be an object with exactly
 * accessKeyId, secretAccessKey, name and role, each by its rule; ids must be distinct. An empty
 * list is valid (no access keys: the DynamoDB door refuses everyone).
 */
export function parseAccessKeysFile(content: string): AccessKeysParse {
  if (typeof content !== 'string' || content.length > ACCESS_KEYS_FILE_CHARS_MAX) {
    return { ok: false, code: 'KEYS_FILE_TOO_LARGE', message: `keys file is larger than ${ACCESS_KEYS_FILE_CHARS_MAX} characters` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (error) {
    return { ok: false, code: 'KEYS_FILE_NOT_JSON', message: `keys file is not JSON: ${error instanceof Error ? error.message.slice(0, 200) : 'parse error'}` };
  }
  if (!Array.isArray(parsed)) return { ok: false, code: 'KEYS_FILE_NOT_LIST', message: 'keys file must be a JSON list of keys' };
  if (parsed.length > ACCESS_KEYS_MAX) return { ok: false, code: 'KEYS_FILE_TOO_MANY', message: `keys file has ${parsed.length} keys, more than ${ACCESS_KEYS_MAX}` };
  const keys = new Map<string, AccessKeyRecord>();
  for (let i = 0; i < parsed.length; i++) {
    const entry: unknown = parsed[i];
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return malformed(i, 'not an object');
    const fields = Object.keys(entry);
    const unknown = fields.find((f) => !(FIELDS as readonly string[]).includes(f));
    // An unknown field is most likely a misspelt one; ignoring it could drop what the operator meant.
    if (unknown !== undefined) return malformed(i, `unknown field ${JSON.stringify(unknown.slice(0, 64))}`);
    const { accessKeyId, secretAccessKey, name, role } = entry as Record<string, unknown>;
    if (!isAccessKeyId(accessKeyId)) return malformed(i, `accessKeyId must be ${ACCESS_KEY_ID_RULE}`);
    // The secret is never quoted back: messages reach logs.
    if (!isSecretAccessKey(secretAccessKey)) return malformed(i, `secretAccessKey of ${accessKeyId} must be ${SECRET_ACCESS_KEY_RULE}`);
    if (!isClientName(name)) return malformed(i, `name of ${accessKeyId} must be ${CLIENT_NAME_RULE}`);
    if (!isClientRole(role)) return malformed(i, `role of ${accessKeyId} must be admin or user`);
    if (keys.has(accessKeyId)) return { ok: false, code: 'KEYS_DUPLICATE_ID', message: `keys file entry ${i}: access key id ${accessKeyId} appears twice` };
    keys.set(accessKeyId, { accessKeyId, secretAccessKey, name, role });
  }
  return { ok: true, keys };
}

/** The content of a keys file holding `records`, which parseAccessKeysFile reads back to the same keys. Throws on a record breaking a rule (a programmer or operator error, caught before writing). */
export function formatAccessKeysFile(records: readonly AccessKeyRecord[]): string {
  const content = `${JSON.stringify(
    records.map(({ accessKeyId, secretAccessKey, name, role }) => ({ accessKeyId, secretAccessKey, name, role })),
    null,
    2,
  )}\n`;
  const check = parseAccessKeysFile(content);
  if (!check.ok) throw new RangeError(check.message);
  return content;
}

/** The lookup verifySigV4 takes: the secret of a known key id. */
export function secretLookup(keys: ReadonlyMap<string, AccessKeyRecord>): (accessKeyId: string) => string | undefined {
  return (accessKeyId) => keys.get(accessKeyId)?.secretAccessKey;
}
