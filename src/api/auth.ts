// Who is asking, on the HTTP door of a secure node: a client certificate signed by the cluster CA
// that names a client (URI SAN dynakv://client/NAME?role=admin|user), or an
// `Authorization: Bearer TOKEN` the node's token check accepts. Parses the credential into a
// ClientIdentity or says why there is none; what each identity may do is request-guard.ts's.
// Never trusts a certificate the TLS layer did not verify (the server requests one, so that
// tokens also work, but does not require it).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { NODE_ID_PATTERN } from '../protocol/ids.ts';

export type Role = 'admin' | 'user';

export interface ClientIdentity {
  /** The client's name, by the node id rule (src/protocol/ids.ts). */
  readonly name: string;
  readonly role: Role;
}

/** Checks a bearer token (HMAC with the cluster's token key); undefined when it is not valid. */
export type TokenCheck = (token: string) => ClientIdentity | undefined;

/** Longest Authorization header read: a token is well under 1 KiB; longer is refused unread. */
export const AUTHORIZATION_CHARS_MAX = 4096;

const CLIENT_URI = /^dynakv:\/\/client\/([^/?#]+)\?role=(admin|user)$/;

/** The client identity a certificate's URI SAN names, or undefined (a node's, or none). */
export function clientIdentityOfUri(uri: string): ClientIdentity | undefined {
  const match = CLIENT_URI.exec(uri);
  if (match === null || !NODE_ID_PATTERN.test(match[1]!)) return undefined;
  return { name: match[1]!, role: match[2] as Role };
}

/** The URIs of a certificate's subjectAltName as node:tls renders it ("URI:a, DNS:b"). */
function sanUris(subjectaltname: string | undefined): string[] {
  if (subjectaltname === undefined) return [];
  return subjectaltname
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('URI:'))
    .map((part) => part.slice(4));
}

export type Authentication =
  | { readonly ok: true; readonly identity: ClientIdentity; readonly via: 'certificate' | 'token' }
  | { readonly ok: false; readonly reason: string };

/** Identity per TLS connection and Authorization value: certificates never change mid-connection. */
const cache = new WeakMap<object, { readonly authorization: string | undefined; readonly result: Authentication }>();

/** Who sent `req`; a bearer token wins over a certificate when both are present. */
export function authenticate(req: IncomingMessage, checkToken: TokenCheck): Authentication {
  const header = req.headers.authorization;
  const cached = cache.get(req.socket);
  if (cached !== undefined && cached.authorization === header) return cached.result;
  const result = header !== undefined ? fromAuthorization(header, checkToken) : fromCertificate(req.socket as TLSSocket);
  cache.set(req.socket, { authorization: header, result });
  return result;
}

function fromAuthorization(header: string, checkToken: TokenCheck): Authentication {
  if (header.length > AUTHORIZATION_CHARS_MAX) return { ok: false, reason: 'authorization header too long' };
  const match = /^Bearer +([!-~]+) *$/i.exec(header);
  if (match === null) return { ok: false, reason: 'authorization must be "Bearer TOKEN"' };
  const identity = checkToken(match[1]!);
  return identity === undefined ? { ok: false, reason: 'token is not valid for this cluster' } : { ok: true, identity, via: 'token' };
}

function fromCertificate(socket: TLSSocket): Authentication {
  if (typeof socket.getPeerCertificate !== 'function') return { ok: false, reason: 'no credential' };
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return { ok: false, reason: 'no credential' };
  if (socket.authorized !== true) return { ok: false, reason: `client certificate not accepted (${String(socket.authorizationError ?? 'unverified')})` };
  for (const uri of sanUris(cert.subjectaltname)) {
    const identity = clientIdentityOfUri(uri);
    if (identity !== undefined) return { ok: true, identity, via: 'certificate' };
  }
  return { ok: false, reason: 'certificate names no dynakv client (dynakv://client/NAME?role=...)' };
}
