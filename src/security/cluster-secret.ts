// The cluster secret: 32 random bytes that every node of one cluster holds (secure mode: the
// file `cluster.secret` in a node's certs dir, written by `dynakv certs create-node`). Keys for
// separate purposes are derived from it with HKDF, so a key leaked for one use (say a client
// token) says nothing about another (the context MAC). Pure: no files, no randomness.
import { assert } from '../env/assert.ts';
import { createHash, hkdfSync } from 'node:crypto';

export const CLUSTER_SECRET_BYTES = 32;

/** What a derived key is for; each purpose gets an independent key. */
export type KeyPurpose = 'context' | 'token' | 'access-key';

/** A 32-byte key for `purpose`, derived from the cluster secret (HKDF-SHA256). */
export function deriveKey(secret: Uint8Array, purpose: KeyPurpose): Buffer {
  assert(secret.length === CLUSTER_SECRET_BYTES, () => `cluster secret must be ${CLUSTER_SECRET_BYTES} bytes, got ${secret.length}`);
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `dynakv ${purpose} key v1`, 32));
}

/**
 * The secret an `--insecure` cluster uses: derived from its name, so anyone who knows the name
 * can compute it. It keeps contexts well-formed across nodes; it protects nothing.
 */
export function insecureClusterSecret(cluster: string): Buffer {
  return createHash('sha256').update(`dynakv insecure cluster secret: ${cluster}`).digest();
}
