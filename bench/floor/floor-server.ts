// The floor of dynakv's design in Node on this machine (issue 15): what a put and a get cost when
// nothing but their essential work is done, measured with the same wrk method as dynakv and etcd
// (bench/floor/run.sh). Two modes:
// - `bare`: a node:http server that answers every PUT with a small ack and every GET with a
//   100-byte value, touching nothing: the ceiling of any Node HTTP store here.
// - `dynamo`: a put is one HTTP exchange, a durable LMDB batch on each of the key's 3 replicas
//   (fdatasync; the batches of one event-loop turn share a transaction, as LmdbStorage does), and
//   forwards from the coordinator to the other replicas over persistent TCP with length-prefixed
//   msgpack frames (one writev per turn, as TcpTransport does); it answers after W=2 durable
//   acks. A get reads 2 replicas (R=2), the coordinator's own when it holds one.
// No versioning, contexts, authentication, limits, validation, metrics, Merkle trees, hints,
// failure detection or logging: this is a measuring stick, never a store. It trusts its input
// and must only ever listen on loopback.
// Usage: node --import tsx bench/floor/floor-server.ts bare|dynamo INDEX DATA_DIR HTTP_PORTS PEER_PORTS [--no-sync]
//   the ports comma-separated, one per node; this node (INDEX in 1..nodes) takes the INDEX-th.
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { open } from 'lmdb';
import { Packr } from 'msgpackr';

const HOST = '127.0.0.1';
const N = 3;
const W = 2;
const ACK = Buffer.from(JSON.stringify({ context: 'x'.repeat(40) }));
const VALUE = Buffer.alloc(100, 0x76);

type PeerRequest = { readonly id: number; readonly op: 'put'; readonly key: string; readonly value: Uint8Array } | { readonly id: number; readonly op: 'get'; readonly key: string };
type PeerReply = { readonly id: number; readonly value?: Uint8Array | null };

const packr = new Packr({ useRecords: false });

function frame(message: PeerRequest | PeerReply): Buffer {
  const body = packr.pack(message);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream into msgpack frames. */
function framer<T>(onFrame: (message: T) => void): (chunk: Buffer) => void {
  let buffered: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) break;
      onFrame(packr.unpack(buffered.subarray(4, 4 + length)) as T);
      buffered = buffered.subarray(4 + length);
    }
  };
}

/** Frames written in one event-loop turn leave in one writev. */
function corkedWriter(socket: net.Socket): (bytes: Buffer) => void {
  let corked = false;
  return (bytes) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    socket.write(bytes);
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function serveBare(httpPort: number): void {
  http
    .createServer((req, res) => {
      if (req.method === 'PUT') {
        void readBody(req).then(() => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': ACK.length });
          res.end(ACK);
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': VALUE.length });
      res.end(VALUE);
    })
    .listen(httpPort, HOST);
}

function serveDynamo(index: number, dataDir: string, httpPorts: readonly number[], peerPorts: readonly number[], sync: boolean): void {
  const nodes = peerPorts.length;
  const peerPort = (i: number): number => peerPorts[i - 1]!;
  const env = open(dataDir, { encoding: 'binary', keyEncoding: 'binary', compression: false, overlappingSync: false, noSync: !sync });
  const db = env.openDB<Buffer, Buffer>('kv', { encoding: 'binary', keyEncoding: 'binary' });
  const durablePut = (key: string, value: Uint8Array): Promise<unknown> =>
    env.batch(() => {
      void db.put(Buffer.from(key), Buffer.from(value));
    });
  const localGet = (key: string): Uint8Array | null => db.getBinary(Buffer.from(key)) ?? null;
  // The key's 3 replicas: consecutive nodes from its MD5, as a ring of equal arcs.
  const replicasOf = (key: string): number[] => {
    const first = createHash('md5').update(key).digest().readUInt32BE(0) % nodes;
    return Array.from({ length: N }, (_, i) => ((first + i) % nodes) + 1);
  };

  net
    .createServer((socket) => {
      socket.setNoDelay(true);
      const write = corkedWriter(socket);
      socket.on(
        'data',
        framer<PeerRequest>((request) => {
          if (request.op === 'put') void durablePut(request.key, request.value).then(() => write(frame({ id: request.id })));
          else write(frame({ id: request.id, value: localGet(request.key) }));
        }),
      );
    })
    .listen(peerPort(index), HOST);

  // A link's requests fail when its socket does (a peer not started yet, or stopped); the next
  // request dials again.
  interface Link {
    readonly write: (bytes: Buffer) => void;
    readonly pending: Map<number, { resolve: (reply: PeerReply) => void; reject: (error: Error) => void }>;
  }
  const links = new Map<number, Link>();
  let nextId = 1;
  const dial = (peer: number): Link => {
    const socket = net.connect(peerPort(peer), HOST);
    socket.setNoDelay(true);
    const link: Link = { write: corkedWriter(socket), pending: new Map() };
    socket.on(
      'data',
      framer<PeerReply>((reply) => {
        const waiter = link.pending.get(reply.id);
        link.pending.delete(reply.id);
        waiter?.resolve(reply);
      }),
    );
    const fail = (): void => {
      if (links.get(peer) === link) links.delete(peer);
      for (const waiter of link.pending.values()) waiter.reject(new Error(`peer ${peer} unreachable`));
      link.pending.clear();
    };
    socket.on('error', fail);
    socket.on('close', fail);
    return link;
  };
  const ask = (peer: number, request: { op: 'put'; key: string; value: Uint8Array } | { op: 'get'; key: string }): Promise<PeerReply> => {
    let link = links.get(peer);
    if (link === undefined) {
      link = dial(peer);
      links.set(peer, link);
    }
    const id = nextId++;
    const { write, pending } = link;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      write(frame({ ...request, id }));
    });
  };
  const unavailable = (res: http.ServerResponse): void => {
    res.writeHead(503, { 'content-length': 0 });
    res.end();
  };
  const atLeast = (count: number, promises: ReadonlyArray<Promise<unknown>>): Promise<void> =>
    new Promise((resolve, reject) => {
      let done = 0;
      let failed = 0;
      for (const p of promises) {
        p.then(
          () => ++done === count && resolve(),
          (error: unknown) => ++failed > promises.length - count && reject(error as Error),
        );
      }
    });

  http
    .createServer((req, res) => {
      // Answered without the peers: what run.sh and the test wait for before they start.
      if (req.url === '/health') {
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return;
      }
      const key = (req.url ?? '/kv/').slice('/kv/'.length);
      const replicas = replicasOf(key);
      if (req.method === 'PUT') {
        readBody(req)
          .then((value) => atLeast(W, replicas.map((r) => (r === index ? durablePut(key, value) : ask(r, { op: 'put', key, value })))))
          .then(
            () => {
              res.writeHead(200, { 'content-type': 'application/json', 'content-length': ACK.length });
              res.end(ACK);
            },
            () => unavailable(res),
          );
        return;
      }
      const others = replicas.filter((r) => r !== index);
      const reads: Array<Promise<Uint8Array | null | undefined>> = replicas.includes(index) ? [Promise.resolve(localGet(key))] : [];
      for (const r of others.slice(0, 2 - reads.length)) reads.push(ask(r, { op: 'get', key }).then((reply) => reply.value));
      Promise.all(reads).then(
        (values) => {
          const value = values.find((v) => v !== null && v !== undefined);
          const body = value === undefined || value === null ? Buffer.alloc(0) : Buffer.from(value);
          res.writeHead(body.length > 0 ? 200 : 404, { 'content-type': 'application/octet-stream', 'content-length': body.length });
          res.end(body);
        },
        () => unavailable(res),
      );
    })
    .listen(httpPorts[index - 1], HOST);
}

const [mode, indexText, dataDir, httpPortsText, peerPortsText] = process.argv.slice(2);
const index = Number(indexText);
const ports = (text: string | undefined): number[] => (text ?? '').split(',').map(Number);
const httpPorts = ports(httpPortsText);
const peerPorts = ports(peerPortsText);
const portsValid = [...httpPorts, ...peerPorts].every((p) => Number.isInteger(p) && p > 0 && p < 65_536);
if ((mode !== 'bare' && mode !== 'dynamo') || dataDir === undefined || !portsValid || httpPorts.length !== peerPorts.length || httpPorts.length < N || !Number.isInteger(index) || index < 1 || index > httpPorts.length) {
  console.error('usage: floor-server.ts bare|dynamo INDEX DATA_DIR HTTP_PORTS PEER_PORTS [--no-sync]  (ports comma-separated, at least 3 nodes, 1 <= INDEX <= nodes)');
  process.exit(2);
}
if (mode === 'bare') serveBare(httpPorts[index - 1]!);
else serveDynamo(index, dataDir, httpPorts, peerPorts, !process.argv.includes('--no-sync'));
// Exit cleanly on a stop, so that a run under --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
