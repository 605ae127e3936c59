// DynamoDB access keys: an id `DKV` + role letter (A admin, U user) + 16 random base32 characters
// (20 in all, like AWS's), and a 40-character secret that is HMAC-SHA256 of the id under the
// cluster secret's 'access-key' key (cluster-secret.ts). As for bearer tokens (tokens.ts), any
// node verifies a signature without state, and a key cannot be revoked on its own (rotate the
// cluster secret). Pure: randomness is handed in.
import { createHmac } from 'node:crypto';
import { deriveKey } from './cluster-secret.ts';
import type { ClientRole } from './tokens.ts';

export const ACCESS_KEY_ID_PATTERN = /^DKV[AU][A-Z2-7]{16}$/;
/** A secret is 40 base64 characters (30 bytes of the MAC), the length of AWS's secrets. */
export const SECRET_ACCESS_KEY_CHARS = 40;
const SECRET_BYTES = 30;
const ID_RANDOM_CHARS = 16;
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly role: ClientRole;
}

export function isAccessKeyId(x: unknown): x is string {
  return typeof x === 'string' && ACCESS_KEY_ID_PATTERN.test(x);
}

/** The role an access key id carries, or undefined if it is not one of ours. */
export function roleOfAccessKey(accessKeyId: string): ClientRole | undefined {
  if (!isAccessKeyId(accessKeyId)) return undefined;
  return accessKeyId[3] === 'A' ? 'admin' : 'user';
}

/** The secret of an access key id under this cluster's secret (undefined if the id is not ours). */
export function secretAccessKeyOf(clusterSecret: Uint8Array, accessKeyId: string): string | undefined {
  if (!isAccessKeyId(accessKeyId)) return undefined;
  return createHmac('sha256', deriveKey(clusterSecret, 'access-key')).update(accessKeyId).digest().subarray(0, SECRET_BYTES).toString('base64');
}

/** A lookup for SigV4 verification that derives the key once per cluster secret. */
export function accessKeyLookup(clusterSecret: Uint8Array): (accessKeyId: string) => string | undefined {
  const key = deriveKey(clusterSecret, 'access-key');
  return (accessKeyId) => (isAccessKeyId(accessKeyId) ? createHmac('sha256', key).update(accessKeyId).digest().subarray(0, SECRET_BYTES).toString('base64') : undefined);
}

/** A new access key for `role`: a random id (80 bits) and its derived secret. */
export function mintAccessKey(clusterSecret: Uint8Array, role: ClientRole, randomBytes: (length: number) => Uint8Array): AccessKey {
  const bytes = randomBytes(ID_RANDOM_CHARS);
  if (!(bytes instanceof Uint8Array) || bytes.length !== ID_RANDOM_CHARS) throw new RangeError(`random source returned ${bytes?.length} bytes, asked for ${ID_RANDOM_CHARS}`);
  let id = `DKV${role === 'admin' ? 'A' : 'U'}`;
  for (const b of bytes) id += BASE32_ALPHABET[b & 31];
  return { accessKeyId: id, secretAccessKey: secretAccessKeyOf(clusterSecret, id)!, role };
}

/** The key as an AWS shared credentials file (AWS_SHARED_CREDENTIALS_FILE): the SDKs, boto3 and the AWS CLI read it. */
export function credentialsFile(key: AccessKey, profile = 'default'): string {
  return `[${profile}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`;
}
