// Who a certificate speaks for: its one `dynakv:` URI SAN, `dynakv://node/<id>` for a node or
// `dynakv://client/<name>?role=<role>` for a client. Both the certs dir loader and the peer
// transport read identities here, so a certificate means the same thing at every door. Pure: it
// parses DER it is given (hostile bytes) and never throws for them.
import { assert } from '../env/assert.ts';
import './reflect-polyfill.ts';
import { SubjectAlternativeNameExtension, X509Certificate } from '@peculiar/x509';
import type { NodeId } from '../env/transport.ts';
import { isNodeId } from '../protocol/ids.ts';
import { isClientName, isClientRole, type ClientRole } from './tokens.ts';

export type CertIdentity =
  | { readonly kind: 'node'; readonly id: NodeId }
  | { readonly kind: 'client'; readonly name: string; readonly role: ClientRole };

export type IdentityResult = { readonly ok: true; readonly identity: CertIdentity } | { readonly ok: false; readonly reason: string };

const IDENTITY_SCHEME = 'dynakv:';
const NODE_URI = /^dynakv:\/\/node\/([A-Za-z0-9_.-]{1,64})$/;
const CLIENT_URI = /^dynakv:\/\/client\/([A-Za-z0-9_.-]{1,64})\?role=(admin|user)$/;
/** A certificate larger than this is not one of ours (ours are under 1 KiB); refused before parsing. */
export const certificateBytesMax = 16 * 1024;

export function nodeIdentityUri(id: NodeId): string {
  assert(isNodeId(id), () => `not a node id: ${JSON.stringify(id)}`);
  return `dynakv://node/${id}`;
}

export function clientIdentityUri(name: string, role: ClientRole): string {
  assert(isClientName(name) && isClientRole(role), () => `not a client name and role: ${JSON.stringify([name, role])}`);
  return `dynakv://client/${name}?role=${role}`;
}

/** The identity a URI names, or undefined if it is not exactly one of the two forms. */
export function parseIdentityUri(uri: unknown): CertIdentity | undefined {
  if (typeof uri !== 'string' || uri.length > 128) return undefined;
  const node = NODE_URI.exec(uri);
  if (node !== null) return { kind: 'node', id: node[1]! };
  const client = CLIENT_URI.exec(uri);
  if (client !== null) return { kind: 'client', name: client[1]!, role: client[2] as ClientRole };
  return undefined;
}

/**
 * The identity of a DER certificate: it must carry exactly one `dynakv:` URI SAN, well-formed.
 * Says nothing about who signed it: callers check the chain (TLS does, and so does the loader).
 */
export function identityOfCertificate(der: Uint8Array): IdentityResult {
  if (der.length > certificateBytesMax) return { ok: false, reason: `certificate of ${der.length} bytes exceeds ${certificateBytesMax}` };
  let uris: string[];
  try {
    // Copied: the library wants a plain ArrayBuffer-backed view.
    const certificate = new X509Certificate(new Uint8Array(der));
    const sans = certificate.getExtensions(SubjectAlternativeNameExtension);
    uris = sans.flatMap((san) => san.names.items.filter((name) => name.type === 'url').map((name) => name.value));
  } catch (error) {
    return { ok: false, reason: `unreadable certificate: ${error instanceof Error ? error.message.slice(0, 200) : 'parse error'}` };
  }
  const ours = uris.filter((uri) => uri.toLowerCase().startsWith(IDENTITY_SCHEME));
  if (ours.length === 0) return { ok: false, reason: 'certificate has no dynakv:// identity URI' };
  // Two identities in one certificate would let it speak for either; ours never carry two.
  if (ours.length > 1) return { ok: false, reason: `certificate has ${ours.length} dynakv:// identity URIs, expected one` };
  const identity = parseIdentityUri(ours[0]);
  if (identity === undefined) return { ok: false, reason: `malformed identity URI ${JSON.stringify(ours[0]!.slice(0, 128))}` };
  return { ok: true, identity };
}

export function describeIdentity(identity: CertIdentity): string {
  return identity.kind === 'node' ? `node ${identity.id}` : `client ${identity.name} (${identity.role})`;
}
