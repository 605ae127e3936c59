// Who is asking, on the HTTP door of a secure node: a client certificate signed by the cluster CA
// that names a client (URI SAN dynakv://client/NAME?role=admin|user, read by
// src/security/identity.ts), or an `Authorization: Bearer TOKEN` minted with the cluster secret
// (src/security/tokens.ts). Parses the credential into a
// ClientIdentity or says why there is none; what each identity may do is request-guard.ts's.
// Never trusts a certificate the TLS layer did not verify (the server requests one, so that
// tokens also work, but does not require it).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { identityOfCertificate } from '../security/identity.ts';
import { verifyToken, type ClientRole } from '../security/tokens.ts';

export type Role = ClientRole;

export interface ClientIdentity {
  /** The client's name, by the node id rule (src/protocol/ids.ts). */
  readonly name: string;
  readonly role: Role;
}

export type Authentication =
  | { readonly ok: true; readonly identity: ClientIdentity; readonly via: 'certificate' | 'token' }
  | { readonly ok: false; readonly reason: string };

/** Longest Authorization header read: a token is under 200 characters; longer is refused unparsed. */
export const AUTHORIZATION_CHARS_MAX = 1024;

/** Identity per TLS connection and Authorization value: certificates never change mid-connection. */
const cache = new WeakMap<object, { readonly authorization: string | undefined; readonly result: Authentication }>();

/** Who sent `req`; a bearer token wins over a certificate when both are present. */
export function authenticate(req: IncomingMessage, clusterSecret: Uint8Array): Authentication {
  const header = req.headers.authorization;
  const cached = cache.get(req.socket);
  if (cached !== undefined && cached.authorization === header) return cached.result;
  const result = header !== undefined ? fromAuthorization(header, clusterSecret) : fromCertificate(req.socket as TLSSocket);
  cache.set(req.socket, { authorization: header, result });
  return result;
}

function fromAuthorization(header: string, clusterSecret: Uint8Array): Authentication {
  if (header.length > AUTHORIZATION_CHARS_MAX) return { ok: false, reason: 'authorization header too long' };
  const match = /^Bearer +([!-~]+) *$/i.exec(header);
  if (match === null) return { ok: false, reason: 'authorization must be "Bearer TOKEN"' };
  const check = verifyToken(clusterSecret, match[1]!);
  if (!check.ok) return { ok: false, reason: check.code === 'TOKEN_MALFORMED' ? 'not a dynakv token' : 'token is not valid for this cluster' };
  return { ok: true, identity: { name: check.name, role: check.role }, via: 'token' };
}

function fromCertificate(socket: TLSSocket): Authentication {
  if (typeof socket.getPeerCertificate !== 'function') return { ok: false, reason: 'no credential' };
  const cert = socket.getPeerCertificate();
  if (cert === null || cert.raw === undefined) return { ok: false, reason: 'no credential' };
  // Verified by the TLS layer against the cluster CA (and its clientAuth usage), or not trusted at all.
  if (socket.authorized !== true) return { ok: false, reason: `client certificate not accepted (${String(socket.authorizationError ?? 'unverified')})` };
  const identity = identityOfCertificate(cert.raw);
  if (!identity.ok) return { ok: false, reason: identity.reason };
  if (identity.identity.kind !== 'client') return { ok: false, reason: 'a node certificate is not a client credential' };
  return { ok: true, identity: { name: identity.identity.name, role: identity.identity.role }, via: 'certificate' };
}
