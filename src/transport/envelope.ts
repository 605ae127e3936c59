// The peer wire envelope: what one frame carries around a protocol message (hello, request,
// reply, error), as a discriminated union, and its structural validation on receipt. It knows
// nothing of request/reply bodies (the protocol layer validates those) and nothing of sockets.
import type { NodeId } from '../env/transport.ts';

/** Bounds on envelope strings, so a peer cannot make us hold or log arbitrarily large ones. */
export const nodeIdLengthMax = 256;
export const clusterLengthMax = 256;
export const errorCodeLengthMax = 64;
export const errorMessageLengthMax = 1024;

/** Request ids are uint32 so they stay 5 bytes on the wire; ids wrap around. */
export const requestIdMax = 0xffff_ffff;

export type Envelope =
  /** First frame on a connection, sent by the dialer: who it is and which cluster it belongs to. */
  | { readonly t: 'hello'; readonly from: NodeId; readonly cluster: string }
  /** A request, dialer to listener; `id` is unique among the dialer's in-flight requests on this connection. */
  | { readonly t: 'req'; readonly id: number; readonly body: unknown }
  /** The reply to request `id`, listener to dialer, on the same connection. */
  | { readonly t: 'rep'; readonly id: number; readonly body: unknown }
  /**
   * The handler of request `id` failed; `code` is stable and machine readable, `message` is for
   * humans. `unread` is set (true) only when the request was refused before it was read (at the
   * transport's door, or by a RefusedUnread from the handler): the caller may then try elsewhere.
   * A peer that never sets it is read as "may have been applied", the safe side.
   */
  | { readonly t: 'err'; readonly id: number; readonly code: string; readonly message: string; readonly unread?: true };

type Fields = Record<string, unknown>;

/** A decoded msgpack map: a plain object, not a Date, Uint8Array or msgpackr marker (e.g. for byte 0xc1). */
function isFields(x: unknown): x is Fields {
  if (typeof x !== 'object' || x === null) return false;
  const prototype: unknown = Object.getPrototypeOf(x);
  return prototype === Object.prototype || prototype === null;
}

function isBoundedString(x: unknown, lengthMax: number, allowEmpty: boolean): x is string {
  return typeof x === 'string' && x.length <= lengthMax && (allowEmpty || x.length > 0);
}

export function isRequestId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= requestIdMax;
}

/** The envelope `x` is, or undefined if it is not one. Unknown extra fields are ignored (forward compatibility). */
export function parseEnvelope(x: unknown): Envelope | undefined {
  if (!isFields(x)) return undefined;
  switch (x.t) {
    case 'hello':
      if (!isBoundedString(x.from, nodeIdLengthMax, false)) return undefined;
      if (!isBoundedString(x.cluster, clusterLengthMax, true)) return undefined;
      return { t: 'hello', from: x.from, cluster: x.cluster };
    case 'req':
    case 'rep':
      if (!isRequestId(x.id)) return undefined;
      return { t: x.t, id: x.id, body: x.body };
    case 'err':
      if (!isRequestId(x.id)) return undefined;
      if (!isBoundedString(x.code, errorCodeLengthMax, false)) return undefined;
      if (!isBoundedString(x.message, errorMessageLengthMax, true)) return undefined;
      if (x.unread !== undefined && x.unread !== true) return undefined;
      return x.unread === true ? { t: 'err', id: x.id, code: x.code, message: x.message, unread: true } : { t: 'err', id: x.id, code: x.code, message: x.message };
    default:
      return undefined;
  }
}
