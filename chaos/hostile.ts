// The hostile client of a chaos run: while the workload and the nemesis run, it sends each node
// requests that must be refused, and only refused: forged, edited, foreign and oversized contexts,
// values and content types past their bounds, a bad quorum, a write without a credential, a
// cross-origin membership change, and garbage or certificate-less connections on the peer port.
// Any answer other than the refusal it expects (a 2xx, a 5xx, another 4xx) is a finding; no answer
// at all is not (the node may be killed, paused or cut off at that moment).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Packr } from 'msgpackr';
import type { ClientCredentials } from '../src/client/http-client.ts';
import type { SeededRandom } from '../src/env/seeded-random.ts';

/** One hostile request at most this often per run: enough to hit every node in every phase. */
const PAUSE_MS_MAX = 400;
/** A node answers a refusal at once; past this the attempt counts as unanswered. */
const ANSWER_TIMEOUT_MS = 5_000;
/** A refused peer connection is closed by the node's hello deadline (5 s) at the latest. */
const PEER_CLOSE_TIMEOUT_MS = 8_000;

export interface HostileTarget {
  readonly id: string;
  readonly url: string;
  readonly peerHost: string;
  readonly peerPort: number;
}

export interface HostileOptions {
  readonly targets: readonly HostileTarget[];
  /** The admin credential (secure clusters): hostile requests use only the CA, or the credential where the refusal is not about it. */
  readonly credentials?: ClientCredentials;
  readonly durationMs: number;
  readonly random: SeededRandom;
  readonly elapsedMs: () => number;
}

export interface HostileReport {
  readonly sent: number;
  readonly refused: number;
  /** No answer (the node was down, paused or cut off): not a finding. */
  readonly unanswered: number;
  /** What was sent, to which node, and what came back instead of the refusal. */
  readonly unexpected: readonly string[];
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
}

type Attempt = (target: HostileTarget) => Promise<{ readonly what: string; readonly expected: readonly number[]; readonly answer: Answer | undefined } | { readonly what: string; readonly closed: boolean }>;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export async function runHostile(options: HostileOptions): Promise<HostileReport> {
  const { credentials, random } = options;
  const secure = credentials !== undefined;
  const send = (target: HostileTarget, path: string, init: { method: string; headers?: Record<string, string>; body?: Buffer; authenticated: boolean }) =>
    sendRaw(new URL(path, target.url), init, init.authenticated ? credentials : credentials === undefined ? undefined : { ca: credentials.ca! });
  const key = () => `hostile-${random.nextInt(1_000_000)}`;
  const put = (target: HostileTarget, k: string, headers: Record<string, string>, body: Buffer = Buffer.from('x')) =>
    send(target, `/kv/${encodeURIComponent(k)}`, { method: 'PUT', headers: { 'content-type': 'text/plain', ...headers }, body, authenticated: true });

  const attempts: Attempt[] = [
    async (t) => {
      // What a client can build without the cluster's key: the bare clock with huge counters.
      const forged = Buffer.from(packr.pack(['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => [id, 2 ** 53 - 200_002, 1]))).toString('base64url');
      return { what: 'PUT with a forged context', expected: [400], answer: await put(t, key(), { 'x-dynakv-context': forged }) };
    },
    async (t) => {
      const k = key();
      const first = await put(t, k, {});
      const context = first?.headers['x-dynakv-context'];
      // The set-up write is an ordinary one: under a fault it may answer 503 (counted unanswered).
      if (first?.status === 503) return { what: 'PUT with an edited context (set-up write 503)', expected: [], answer: undefined };
      if (typeof context !== 'string' || context === '') return { what: 'PUT with an edited context (no context to edit)', expected: [200], answer: first };
      const bytes = Buffer.from(context, 'base64url');
      bytes[random.nextInt(bytes.length)]! ^= 1 << random.nextInt(8);
      return { what: 'PUT with an edited context', expected: [400], answer: await put(t, k, { 'x-dynakv-context': bytes.toString('base64url') }) };
    },
    async (t) => {
      const first = await put(t, key(), {});
      const context = first?.headers['x-dynakv-context'];
      if (first?.status === 503) return { what: 'PUT with a context of another key (set-up write 503)', expected: [], answer: undefined };
      if (typeof context !== 'string' || context === '') return { what: 'PUT with a context of another key (no context)', expected: [200], answer: first };
      return { what: 'PUT with a context of another key', expected: [400], answer: await put(t, key(), { 'x-dynakv-context': context }) };
    },
    async (t) => ({ what: 'PUT with a 12 KB context', expected: [400], answer: await put(t, key(), { 'x-dynakv-context': 'A'.repeat(12_000) }) }),
    async (t) => ({ what: 'PUT with a 20 KB context header', expected: [400, 431], answer: await put(t, key(), { 'x-dynakv-context': 'A'.repeat(20_000) }) }),
    async (t) => ({ what: 'PUT of 1 MiB + 1 byte', expected: [413], answer: await put(t, key(), {}, Buffer.alloc(1024 * 1024 + 1, 7)) }),
    async (t) => ({ what: 'PUT with a 300-character content type', expected: [400], answer: await put(t, key(), { 'content-type': `text/${'x'.repeat(295)}` }) }),
    async (t) => ({ what: 'PUT with w=9', expected: [400], answer: await send(t, `/kv/${key()}?w=9`, { method: 'PUT', body: Buffer.from('x'), authenticated: true }) }),
    async (t) => ({ what: 'GET of a 2,000-byte key', expected: [400], answer: await send(t, `/kv/${'k'.repeat(2_000)}`, { method: 'GET', authenticated: true }) }),
    async (t) => ({
      what: 'cross-origin text/plain POST to /cluster/members',
      expected: [403],
      answer: await send(t, '/cluster/members', {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
        body: Buffer.from(JSON.stringify({ id: 'mallory', peer: '10.9.9.9:7101' })),
        authenticated: true,
      }),
    }),
    async (t) => ({ what: 'garbage on the peer port', closed: await peerGarbage(t) }),
  ];
  if (secure) {
    attempts.push(
      async (t) => ({ what: 'PUT without a credential', expected: [401], answer: await send(t, `/kv/${key()}`, { method: 'PUT', body: Buffer.from('x'), authenticated: false }) }),
      async (t) => ({ what: 'TLS without a certificate on the peer port', closed: await peerTlsWithoutCertificate(t, credentials.ca!) }),
    );
  }

  let sent = 0;
  let refused = 0;
  let unanswered = 0;
  const unexpected: string[] = [];
  while (options.elapsedMs() < options.durationMs) {
    const target = options.targets[random.nextInt(options.targets.length)]!;
    const attempt = attempts[random.nextInt(attempts.length)]!;
    sent++;
    const outcome = await attempt(target);
    if ('closed' in outcome) {
      // A connection left open past the hello deadline means the door let a stranger stay.
      if (outcome.closed) refused++;
      else unexpected.push(`${outcome.what} to ${target.id}: the connection stayed open past ${PEER_CLOSE_TIMEOUT_MS} ms`);
    } else if (outcome.answer === undefined) {
      unanswered++;
    } else if (outcome.expected.includes(outcome.answer.status)) {
      refused++;
    } else {
      unexpected.push(`${outcome.what} to ${target.id}: answered ${outcome.answer.status}, expected ${outcome.expected.join(' or ')}`);
    }
    await new Promise((r) => setTimeout(r, random.nextInt(PAUSE_MS_MAX)));
  }
  return { sent, refused, unanswered, unexpected };
}

/** One request with exactly these headers; undefined when no answer came (refused, reset, timed out). */
function sendRaw(url: URL, init: { method: string; headers?: Record<string, string>; body?: Buffer }, credentials: ClientCredentials | undefined): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...init.headers, 'x-dynakv-request': 'chaos-hostile' };
    if (credentials?.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
    const options = { method: init.method, headers, timeout: ANSWER_TIMEOUT_MS, agent: false as const };
    const request =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, ...(credentials?.ca !== undefined ? { ca: credentials.ca } : {}), ...(credentials?.cert !== undefined ? { cert: credentials.cert, key: credentials.key } : {}) })
        : httpRequest(url, options);
    request.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', () => resolve(undefined));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
    request.end(init.body);
  });
}

/** Sends junk (a frame header declaring 32 MiB, then noise) and reports whether the node closed the connection in time. */
function peerGarbage(target: HostileTarget): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: target.peerHost, port: target.peerPort });
    let connected = false;
    // Never connected: the node is cut off (its packets dropped, so no refusal comes either), which
    // is not a finding; counted as closed, as a refusal or an unreachable node is.
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(!connected);
    }, PEER_CLOSE_TIMEOUT_MS);
    const done = (closedByPeer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(closedByPeer);
    };
    socket.on('connect', () => {
      connected = true;
      const header = Buffer.alloc(4);
      header.writeUInt32BE(32 * 1024 * 1024);
      socket.write(Buffer.concat([header, Buffer.alloc(4096, 0xab)]));
    });
    // Refused or unreachable (node down or cut off) is not a finding: count it as closed.
    socket.on('error', () => done(true));
    socket.on('close', () => done(true));
  });
}

/** A TLS client that verifies the node but shows no certificate: the node must close the connection. */
function peerTlsWithoutCertificate(target: HostileTarget, ca: string | Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: target.peerHost, port: target.peerPort, ca, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
    let connected = false;
    socket.once('connect', () => {
      connected = true;
    });
    // As peerGarbage: a TCP connection never made (node cut off) is not a finding.
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(!connected);
    }, PEER_CLOSE_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    };
    socket.on('secureConnect', () => {
      // A hello as a node would send it; the node must not answer it without a certificate.
      const body = Buffer.from(packr.pack({ t: 'hello', from: 'n1', cluster: 'x' }));
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      socket.write(Buffer.concat([header, body]));
    });
    socket.on('data', () => {
      // Anything read back is an answer to a stranger.
      clearTimeout(timer);
      socket.destroy();
      resolve(false);
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}
