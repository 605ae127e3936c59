// The Transport contract, written once and run against every implementation (STYLE.md section 2):
// TcpTransport (mutual TLS and --insecure) and the simulator's SimNetwork. Each case opens a fresh
// network of transports through `open`, drives them only through the Transport interface, and
// checks what src/env/transport.ts promises: replies matched to requests, REMOTE_ERROR, TIMEOUT,
// UNREACHABLE, CLOSED (own close and peer close), OVERLOADED (in-flight bound, frame limit).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RefusedUnread, requestTimeoutMsMax, TransportError, type NodeId, type Transport, type TransportErrorCode } from '../../src/env/transport.ts';
import { errorCodeLengthMax, errorMessageLengthMax } from '../../src/transport/envelope.ts';
import { RemoteError } from '../../src/transport/remote-error.ts';

/** What the contract's handler is asked to do. */
export type ContractRequest =
  | { readonly op: 'echo'; readonly value: unknown }
  | { readonly op: 'fail'; readonly code?: string; readonly message: string }
  | { readonly op: 'refuse'; readonly code: string; readonly message: string }
  | { readonly op: 'throw_sync' }
  | { readonly op: 'throw_string' }
  | { readonly op: 'hold'; readonly value: number }
  | { readonly op: 'large_reply'; readonly bytes: number }
  | { readonly op: 'bad_reply' }
  /** Refused by parseContractRequest on the receiving side. */
  | { readonly op: 'bogus' };

export interface ContractReply {
  readonly from: NodeId;
  readonly value: unknown;
}

function isFields(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The receiving side's validator: a body it refuses makes the frame malformed. */
export function parseContractRequest(body: unknown): ContractRequest | undefined {
  if (!isFields(body)) return undefined;
  switch (body.op) {
    case 'echo':
      return { op: 'echo', value: body.value };
    case 'fail':
      if (typeof body.message !== 'string') return undefined;
      return typeof body.code === 'string' ? { op: 'fail', code: body.code, message: body.message } : { op: 'fail', message: body.message };
    case 'refuse':
      return typeof body.code === 'string' && typeof body.message === 'string' ? { op: 'refuse', code: body.code, message: body.message } : undefined;
    case 'throw_sync':
    case 'throw_string':
    case 'bad_reply':
      return { op: body.op };
    case 'hold':
      return typeof body.value === 'number' ? { op: 'hold', value: body.value } : undefined;
    case 'large_reply':
      return typeof body.bytes === 'number' && Number.isSafeInteger(body.bytes) && body.bytes >= 0 ? { op: 'large_reply', bytes: body.bytes } : undefined;
    default:
      return undefined;
  }
}

/** The sending side's validator: a reply it refuses closes the connection. */
export function parseContractReply(body: unknown): ContractReply | undefined {
  if (!isFields(body) || typeof body.from !== 'string') return undefined;
  return { from: body.from, value: body.value };
}

export interface ContractNetworkOptions {
  /** Requests in flight from one node to one peer before OVERLOADED; default the implementation's. */
  readonly inFlightMax?: number;
  /** Largest frame payload in bytes; default the implementation's. */
  readonly frameBytesMax?: number;
}

/** Connected transports of one implementation, for one test case. */
export interface ContractNetwork {
  /**
   * Starts node `id`'s transport, reachable by the others under `id`; starting an id again after
   * its transport closed is a restart. The suite calls serve() on it.
   */
  start(id: NodeId): Promise<Transport<ContractRequest, ContractReply>>;
  /** Awaits `work`, moving time as the implementation needs (virtual time in the simulator). */
  run<T>(work: Promise<T>): Promise<T>;
  /** Lets `ms` of time pass (real or virtual). */
  pause(ms: number): Promise<void>;
  /** Releases everything the network holds (closing transports still open). */
  cleanup(): Promise<void>;
}

/** Node ids the suite uses; an implementation with authentication must let all of them in. */
export const contractNodeIds = ['a', 'b', 'c'] as const;

/** Handler calls that wait until the test releases them, in any order it likes. */
class Holds {
  private readonly waiting: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((release) => this.waiting.push(release));
  }
  get count(): number {
    return this.waiting.length;
  }
  releaseAll(order: 'fifo' | 'lifo' = 'fifo'): void {
    const all = this.waiting.splice(0);
    if (order === 'lifo') all.reverse();
    for (const release of all) release();
  }
}

interface Node {
  readonly id: NodeId;
  readonly transport: Transport<ContractRequest, ContractReply>;
  readonly holds: Holds;
  /** `from:op` of every request its handler saw. */
  readonly handled: string[];
}

function transportError(code: TransportErrorCode, messagePart = ''): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TransportError, `expected a TransportError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.includes(messagePart), `'${error.message}' should mention '${messagePart}'`);
    return true;
  };
}

function remoteError(remoteCode: string, remoteMessage?: string, refusedUnread = false): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof RemoteError, `expected a RemoteError ${remoteCode}, got ${String(error)}`);
    assert.equal(error.code, 'REMOTE_ERROR');
    assert.equal(error.remoteCode, remoteCode, error.message);
    assert.equal(error.refusedUnread, refusedUnread, `refusedUnread of ${error.message}`);
    if (remoteMessage !== undefined) assert.equal(error.remoteMessage, remoteMessage);
    return true;
  };
}

/** How long the suite waits for a condition before failing (real or virtual milliseconds). */
const waitMsMax = 5_000;
const pollMs = 5;

export function transportContract(name: string, open: (options: ContractNetworkOptions) => Promise<ContractNetwork>): void {
  describe(`Transport contract: ${name}`, () => {
    let network: ContractNetwork | undefined;
    const nodes: Node[] = [];

    async function world(options: ContractNetworkOptions = {}): Promise<ContractNetwork> {
      assert.equal(network, undefined, 'one network per test');
      network = await open(options);
      return network;
    }

    async function start(id: NodeId): Promise<Node> {
      assert.ok(network !== undefined, 'world() first');
      const transport = await network.start(id);
      const holds = new Holds();
      const handled: string[] = [];
      transport.serve((from, request) => {
        handled.push(`${from}:${request.op}`);
        switch (request.op) {
          case 'echo':
            return Promise.resolve({ from: id, value: request.value });
          case 'fail':
            return Promise.reject(Object.assign(new Error(request.message), request.code === undefined ? {} : { code: request.code }));
          case 'refuse':
            return Promise.reject(new RefusedUnread(request.code, request.message));
          case 'throw_sync':
            // A handler that throws instead of returning a rejected promise.
            throw Object.assign(new Error('thrown synchronously'), { code: 'SYNC_THROW' });
          case 'throw_string':
            return Promise.reject('not an Error object');
          case 'hold':
            return holds.wait().then(() => ({ from: id, value: request.value }));
          case 'large_reply':
            return Promise.resolve({ from: id, value: new Uint8Array(request.bytes) });
          case 'bad_reply':
            return Promise.resolve({ value: 'no from field' } as unknown as ContractReply);
          case 'bogus':
            return Promise.reject(new Error('parseContractRequest should have refused this'));
        }
      });
      const node = { id, transport, holds, handled };
      nodes.push(node);
      return node;
    }

    /** Polls `predicate` (letting time pass between looks) until it holds. */
    async function until(predicate: () => boolean, what: string): Promise<void> {
      assert.ok(network !== undefined);
      for (let waitedMs = 0; !predicate(); waitedMs += pollMs) {
        if (waitedMs > waitMsMax) assert.fail(`${what}: not within ${waitMsMax} ms`);
        await network.pause(pollMs);
      }
    }

    /** Retries `request` while it answers UNREACHABLE (a reconnect backoff), until it settles otherwise. */
    async function reached<T>(request: () => Promise<T>, what: string): Promise<T> {
      assert.ok(network !== undefined);
      for (let waitedMs = 0; ; waitedMs += pollMs) {
        try {
          return await network.run(request());
        } catch (error) {
          if (!(error instanceof TransportError && error.code === 'UNREACHABLE') || waitedMs > waitMsMax) throw error;
        }
        await network.pause(pollMs);
      }
    }

    beforeEach(() => {
      network = undefined;
    });
    afterEach(async () => {
      for (const node of nodes.splice(0)) node.holds.releaseAll();
      await network?.cleanup();
    });

    it('carries requests and replies both ways; the handler learns the sender; bytes survive', async () => {
      const net = await world();
      const a = await start('a');
      const b = await start('b');
      const bytes = new Uint8Array([0, 1, 127, 128, 254, 255]);
      const reply = await net.run(a.transport.request('b', { op: 'echo', value: { bytes, text: 'héllo 🎉', n: -1.5, list: [null, true] } }, 1_000));
      assert.equal(reply.from, 'b');
      const value = reply.value as { bytes: unknown; text: unknown; n: unknown; list: unknown };
      assert.ok(value.bytes instanceof Uint8Array && Buffer.from(value.bytes).equals(bytes), 'bytes come back as the same bytes');
      assert.deepEqual([value.text, value.n, value.list], ['héllo 🎉', -1.5, [null, true]]);
      assert.deepEqual(await net.run(b.transport.request('a', { op: 'echo', value: 42 }, 1_000)), { from: 'a', value: 42 });
      assert.deepEqual(b.handled, ['a:echo']);
      assert.deepEqual(a.handled, ['b:echo']);
    });

    it('matches concurrent replies to their requests whatever order the handler answers in; each request is handled once', async () => {
      const net = await world();
      const a = await start('a');
      const b = await start('b');
      const count = 50;
      const replies = Array.from({ length: count }, (_, i) => a.transport.request('b', { op: 'hold', value: i }, 5_000));
      await until(() => b.holds.count === count, 'all requests held');
      b.holds.releaseAll('lifo');
      const values = (await net.run(Promise.all(replies))).map((r) => r.value);
      assert.deepEqual(values, Array.from({ length: count }, (_, i) => i));
      assert.equal(b.handled.length, count);
    });

    it('a handler failure is REMOTE_ERROR carrying its code (else HANDLER_FAILED) and a bounded message; the link survives', async () => {
      const net = await world();
      const a = await start('a');
      await start('b');
      const ask = (request: ContractRequest): Promise<ContractReply> => net.run(a.transport.request('b', request, 1_000));
      await assert.rejects(ask({ op: 'fail', code: 'KEY_TOO_LONG', message: 'key is 2000 bytes' }), remoteError('KEY_TOO_LONG', 'key is 2000 bytes'));
      await assert.rejects(ask({ op: 'fail', message: 'no code' }), remoteError('HANDLER_FAILED', 'no code'));
      await assert.rejects(ask({ op: 'fail', code: 'X'.repeat(errorCodeLengthMax + 1), message: 'code too long' }), remoteError('HANDLER_FAILED'));
      await assert.rejects(ask({ op: 'fail', message: 'm'.repeat(errorMessageLengthMax * 2) }), remoteError('HANDLER_FAILED', 'm'.repeat(errorMessageLengthMax)));
      await assert.rejects(ask({ op: 'throw_sync' }), remoteError('SYNC_THROW', 'thrown synchronously'));
      await assert.rejects(ask({ op: 'throw_string' }), remoteError('HANDLER_FAILED', 'not an Error object'));
      // Only a RefusedUnread is flagged as refused before it was read; a code alone is not.
      await assert.rejects(ask({ op: 'refuse', code: 'NOT_READY', message: 'not yet' }), remoteError('NOT_READY', 'not yet', true));
      await assert.rejects(ask({ op: 'fail', code: 'NOT_READY', message: 'half applied' }), remoteError('NOT_READY', 'half applied', false));
      assert.deepEqual(await ask({ op: 'echo', value: 1 }), { from: 'b', value: 1 });
    });

    it('rejects TIMEOUT when no reply comes in time; the late reply is dropped and the request no longer counts as in flight', async () => {
      const net = await world({ inFlightMax: 1 });
      const a = await start('a');
      const b = await start('b');
      // Connected first, so that the timeout runs against the handler alone.
      assert.deepEqual(await net.run(a.transport.request('b', { op: 'echo', value: 'before' }, 1_000)), { from: 'b', value: 'before' });
      await assert.rejects(net.run(a.transport.request('b', { op: 'hold', value: 7 }, 100)), transportError('TIMEOUT'));
      // The peer did receive it: a TIMEOUT says nothing of whether it was applied.
      await until(() => b.holds.count === 1, 'the timed-out request held by the peer');
      b.holds.releaseAll();
      // The only slot is free again, and the late reply to the first request is not taken for this one's.
      assert.deepEqual(await net.run(a.transport.request('b', { op: 'echo', value: 'after' }, 1_000)), { from: 'b', value: 'after' });
    });

    it('rejects OVERLOADED at the sender past inFlightMax requests to one peer, sending nothing; other peers are unaffected', async () => {
      const net = await world({ inFlightMax: 3 });
      const a = await start('a');
      const b = await start('b');
      await start('c');
      const held = [1, 2, 3].map((value) => a.transport.request('b', { op: 'hold', value }, 5_000));
      await assert.rejects(net.run(a.transport.request('b', { op: 'echo', value: 4 }, 1_000)), transportError('OVERLOADED'));
      assert.deepEqual(await net.run(a.transport.request('c', { op: 'echo', value: 5 }, 1_000)), { from: 'c', value: 5 }, 'the bound is per peer');
      assert.deepEqual(await net.run(b.transport.request('a', { op: 'echo', value: 6 }, 1_000)), { from: 'a', value: 6 }, 'and per direction');
      await until(() => b.holds.count === 3, 'three requests held');
      assert.deepEqual(b.handled, ['a:hold', 'a:hold', 'a:hold'], 'the refused request never reached the peer');
      b.holds.releaseAll();
      assert.equal((await net.run(Promise.all(held))).length, 3);
      assert.deepEqual(await net.run(a.transport.request('b', { op: 'echo', value: 7 }, 1_000)), { from: 'b', value: 7 }, 'answered requests free their slots');
    });

    it('rejects OVERLOADED at the sender for a request larger than a frame, and REPLY_TOO_LARGE for such a reply; the link survives', async () => {
      const frameBytesMax = 4096;
      const net = await world({ frameBytesMax });
      const a = await start('a');
      const b = await start('b');
      await assert.rejects(net.run(a.transport.request('b', { op: 'echo', value: new Uint8Array(frameBytesMax + 1) }, 1_000)), transportError('OVERLOADED', 'too large'));
      assert.deepEqual(b.handled, [], 'the oversized request never reached the peer');
      await assert.rejects(net.run(a.transport.request('b', { op: 'large_reply', bytes: frameBytesMax + 1 }, 1_000)), remoteError('REPLY_TOO_LARGE'));
      const fits = await net.run(a.transport.request('b', { op: 'echo', value: new Uint8Array(frameBytesMax - 100) }, 1_000));
      assert.equal((fits.value as Uint8Array).length, frameBytesMax - 100);
    });

    it('rejects UNREACHABLE for an unknown peer and for a peer that closed; a restarted peer is reached again', async () => {
      const net = await world();
      const a = await start('a');
      const b = await start('b');
      await assert.rejects(net.run(a.transport.request('c', { op: 'echo', value: 1 }, 1_000)), transportError('UNREACHABLE'));
      assert.deepEqual(await net.run(a.transport.request('b', { op: 'echo', value: 2 }, 1_000)), { from: 'b', value: 2 });
      await b.transport.close();
      // c never had a connection to b, so nothing races its close: it finds no one listening.
      const c = await start('c');
      await assert.rejects(net.run(c.transport.request('b', { op: 'echo', value: 3 }, 1_000)), transportError('UNREACHABLE'));
      const restarted = await start('b');
      assert.deepEqual(await reached(() => a.transport.request('b', { op: 'echo', value: 4 }, 1_000), 'the restarted b'), { from: 'b', value: 4 });
      assert.deepEqual(restarted.handled, ['a:echo']);
    });

    it('close() rejects its own requests in flight with CLOSED, resolves when called again, and refuses later requests with CLOSED', async () => {
      const net = await world();
      const a = await start('a');
      const b = await start('b');
      const pending = a.transport.request('b', { op: 'hold', value: 1 }, 5_000);
      pending.catch(() => {});
      await until(() => b.holds.count === 1, 'request held');
      await a.transport.close();
      await assert.rejects(net.run(pending), transportError('CLOSED'));
      await a.transport.close();
      await assert.rejects(net.run(a.transport.request('b', { op: 'echo', value: 1 }, 1_000)), transportError('CLOSED'));
      b.holds.releaseAll();
      // b answers into the void; nothing reaches a's closed transport, and b keeps serving others.
      const c = await start('c');
      assert.deepEqual(await net.run(c.transport.request('b', { op: 'echo', value: 2 }, 1_000)), { from: 'b', value: 2 });
    });

    it('a peer that closes with requests in flight to it: they reject CLOSED, before their timeout', async () => {
      const net = await world();
      const a = await start('a');
      const b = await start('b');
      const held = a.transport.request('b', { op: 'hold', value: 1 }, 60_000);
      held.catch(() => {});
      await until(() => b.holds.count === 1, 'request held');
      await b.transport.close();
      await assert.rejects(net.run(held), transportError('CLOSED'));
      // Its handler finishing later sends nothing anywhere.
      b.holds.releaseAll();
      await net.pause(20);
    });

    it('a request the receiver\'s validator refuses, or a reply the sender\'s refuses, rejects CLOSED and never reaches the handler; the link recovers', async () => {
      const net = await world();
      const a = await start('a');
      const b = await start('b');
      await assert.rejects(net.run(a.transport.request('b', { op: 'bad_reply' }, 1_000)), transportError('CLOSED'));
      assert.deepEqual(await reached(() => a.transport.request('b', { op: 'echo', value: 1 }, 1_000), 'b after a bad reply'), { from: 'b', value: 1 });
      await assert.rejects(net.run(a.transport.request('b', { op: 'bogus' }, 1_000)), transportError('CLOSED'));
      assert.deepEqual(b.handled, ['a:bad_reply', 'a:echo'], 'the refused request never reached the handler');
      assert.deepEqual(await reached(() => a.transport.request('b', { op: 'echo', value: 2 }, 1_000), 'b after a bad request'), { from: 'b', value: 2 });
    });

    it('throws at once for programmer errors: a request to self, a timeout outside (0, requestTimeoutMsMax], serve() twice', async () => {
      await world();
      const a = await start('a');
      await start('b');
      assert.throws(() => a.transport.request('a', { op: 'echo', value: 1 }, 1_000), /self|itself/);
      for (const timeoutMs of [0, -1, Number.NaN, requestTimeoutMsMax + 1]) {
        assert.throws(() => a.transport.request('b', { op: 'echo', value: 1 }, timeoutMs), RangeError, `timeout ${timeoutMs}`);
      }
      assert.throws(() => a.transport.serve(() => Promise.resolve({ from: 'a', value: 0 })), /twice/);
    });
  });
}
