// The world a node runs in, injected as one bundle: clock, randomness, storage, transport.
// Everything a node does to the outside goes through these four; see STYLE.md section 1.

export type { Clock, Timer } from './clock.ts';
export type { Random } from './random.ts';
export type { Space, Storage, StorageWrite, StorageEntry, ScanOptions } from './storage.ts';
export { StorageError, SPACES } from './storage.ts';
export type { NodeId, Transport, RequestHandler, TransportErrorCode } from './transport.ts';
export { TransportError } from './transport.ts';
export type { Log } from './log.ts';
export { silentLog } from './log.ts';
