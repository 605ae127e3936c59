// DynamoDB access keys: an id `DKV` + role letter (A admin, U user) + 12 random base32 characters
// + a 12-character tag (60 bits of HMAC over the rest), 28 in all (AWS's are 20; SigV4 and the
// SDKs take 16-128), and a 40-character
// secret that is HMAC-SHA256 of the id; both under the cluster secret's 'access-key' key
// (cluster-secret.ts). As for bearer tokens (tokens.ts), any node verifies a signature without
// state, and a key cannot be revoked on its own (rotate the cluster secret). The tag lets a node
// refuse an id this cluster never minted from the headers alone, before it reads a body the
// signature covers. Pure: randomness is handed in.
import { createHmac } from 'node:crypto';
import { deriveKey } from './cluster-secret.ts';
import type { ClientRole } from './tokens.ts';

export const ACCESS_KEY_ID_PATTERN = /^DKV[AU][A-Z2-7]{24}$/;
/** A secret is 40 base64 characters (30 bytes of the MAC), the length of AWS's secrets. */
export const SECRET_ACCESS_KEY_CHARS = 40;
const SECRET_BYTES = 30;
const ID_RANDOM_CHARS = 12;
/** 60 bits: an id this cluster never minted cannot be guessed online. */
const ID_TAG_CHARS = 12;
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly role: ClientRole;
}

export function isAccessKeyId(x: unknown): x is string {
  return typeof x === 'string' && ACCESS_KEY_ID_PATTERN.test(x);
}

/** The role an access key id carries, or undefined if it does not have the id's form. */
export function roleOfAccessKey(accessKeyId: string): ClientRole | undefined {
  if (!isAccessKeyId(accessKeyId)) return undefined;
  return accessKeyId[3] === 'A' ? 'admin' : 'user';
}

function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) out += BASE32_ALPHABET[bytes[i]! & 31];
  return out;
}

/** The tag an id's first 16 characters must end with under this key. */
function tagOf(key: Uint8Array, head: string): string {
  return base32(createHmac('sha256', key).update(`access-key-id-tag\u0000${head}`).digest(), ID_TAG_CHARS);
}

function secretOf(key: Uint8Array, accessKeyId: string): string | undefined {
  if (!isAccessKeyId(accessKeyId)) return undefined;
  const head = accessKeyId.slice(0, accessKeyId.length - ID_TAG_CHARS);
  if (tagOf(key, head) !== accessKeyId.slice(head.length)) return undefined;
  return createHmac('sha256', key).update(accessKeyId).digest().subarray(0, SECRET_BYTES).toString('base64');
}

/** The secret of an access key id under this cluster's secret (undefined if this cluster did not mint the id). */
export function secretAccessKeyOf(clusterSecret: Uint8Array, accessKeyId: string): string | undefined {
  return secretOf(deriveKey(clusterSecret, 'access-key'), accessKeyId);
}

/** A lookup for SigV4 verification that derives the key once per cluster secret. */
export function accessKeyLookup(clusterSecret: Uint8Array): (accessKeyId: string) => string | undefined {
  const key = deriveKey(clusterSecret, 'access-key');
  return (accessKeyId) => secretOf(key, accessKeyId);
}

/** A new access key for `role`: a random id (60 bits and a tag) and its derived secret. */
export function mintAccessKey(clusterSecret: Uint8Array, role: ClientRole, randomBytes: (length: number) => Uint8Array): AccessKey {
  const bytes = randomBytes(ID_RANDOM_CHARS);
  if (!(bytes instanceof Uint8Array) || bytes.length !== ID_RANDOM_CHARS) throw new RangeError(`random source returned ${bytes?.length} bytes, asked for ${ID_RANDOM_CHARS}`);
  const key = deriveKey(clusterSecret, 'access-key');
  const head = `DKV${role === 'admin' ? 'A' : 'U'}${base32(bytes, ID_RANDOM_CHARS)}`;
  const id = head + tagOf(key, head);
  return { accessKeyId: id, secretAccessKey: secretOf(key, id)!, role };
}

/** The key as an AWS shared credentials file (AWS_SHARED_CREDENTIALS_FILE): the SDKs, boto3 and the AWS CLI read it. */
export function credentialsFile(key: AccessKey, profile = 'default'): string {
  return `[${profile}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`;
}
