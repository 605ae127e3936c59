// Shows, on real `dynakv node start` processes, how a node chooses its security: with neither
// --certs-dir nor --insecure it refuses to start and says how to make certificates; both flags,
// a certs dir made for another node id, or a broken certs dir are refused naming the problem;
// --insecure starts and logs one warning (and still bounds what strangers on its peer port can
// make it hold: 100 connections sending 32 MiB frame headers and 1 MiB before a hello grow its
// resident memory by a few MiB, not by 100 MiB); --certs-dir starts secure, without that warning.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureClusterCerts } from '../../src/security/certs.ts';
import { fetchWith } from '../support/cluster-fetch.ts';
import { freePort, waitFor } from '../support/local-cluster.ts';

const BIN = resolve(import.meta.dirname, '../../bin/dynakv-dev.js');
let root: string;

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs `dynakv node start` with `flags`; resolves when it exits on its own, or after it answered /health (then it is stopped). */
async function nodeStart(id: string, flags: string[], whileUp?: (peerPort: number, pid: number) => Promise<void>): Promise<Run & { readonly healthy: boolean }> {
  const httpPort = await freePort();
  const peerPort = await freePort();
  const child = spawn(process.execPath, [BIN, 'node', 'start', '--id', id, '--http-port', String(httpPort), '--peer-port', String(peerPort), '--data-dir', join(root, `data-${id}-${httpPort}`), '--peers', `${id}=127.0.0.1:${peerPort}`, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  let healthy = false;
  try {
    await waitFor(`${id} to exit or answer /health`, async () => {
      if (child.exitCode !== null) return true;
      // A secure node serves HTTPS with a certificate from its cluster's CA (/health needs no credential).
      const certsDir = flags.includes('--certs-dir') ? flags[flags.indexOf('--certs-dir') + 1]! : undefined;
      const get = certsDir === undefined ? fetch : fetchWith({ ca: readFileSync(join(certsDir, 'ca.crt'), 'utf8') });
      healthy = (await get(`${certsDir === undefined ? 'http' : 'https'}://127.0.0.1:${httpPort}/health`)).ok;
      return healthy;
    }, 30_000);
    if (healthy && whileUp !== undefined) await whileUp(peerPort, child.pid!);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
  const code = await exited;
  return { code, output, healthy };
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match !== null);
  return Number(match[1]) * 1024;
}

/** 100 strangers each declare a 32 MiB frame before any hello and send 1 MiB of it. */
async function flood(peerPort: number, pid: number): Promise<void> {
  const before = rssBytes(pid);
  let peak = before;
  let closed = 0;
  const header = Buffer.alloc(4);
  header.writeUInt32BE(32 * 1024 * 1024 - 1);
  const body = Buffer.alloc(1024 * 1024, 0x61);
  const count = 100;
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ host: '127.0.0.1', port: peerPort });
    socket.on('error', () => {});
    socket.resume();
    socket.on('close', () => (closed += 1));
    socket.on('connect', () => {
      socket.write(header);
      socket.write(body);
    });
  }
  await waitFor('every stranger closed', () => {
    peak = Math.max(peak, rssBytes(pid));
    return closed === count;
  }, 30_000, 20);
  const grewBytes = peak - before;
  console.log(`insecure peer port flood: ${count} x (32 MiB header + 1 MiB), RSS +${(grewBytes / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(grewBytes < 32 * 2 ** 20, `RSS grew by ${grewBytes} bytes`);
}

describe('dynakv node start: secure or explicitly insecure', () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-node-start-'));
    await ensureClusterCerts({ certsDir: join(root, 'certs'), nodeIds: ['n1', 'n2', 'broken'] });
    rmSync(join(root, 'certs', 'broken', 'cluster.secret'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('refuses to start with neither --certs-dir nor --insecure, saying how to make certificates', async () => {
    const run = await nodeStart('n1', []);
    assert.equal(run.healthy, false);
    assert.equal(run.code, 1);
    assert.match(run.output, /refusing to start without --certs-dir or --insecure/);
    assert.match(run.output, /dynakv certs create-ca --certs-dir certs/);
    assert.match(run.output, /dynakv certs create-node n1 --certs-dir certs\/n1 --ca-key certs\/ca\.key/);
  });

  it('refuses both flags, another node\'s certs dir, and a broken certs dir, naming the problem', async () => {
    const both = await nodeStart('n1', ['--insecure', '--certs-dir', join(root, 'certs', 'n1')]);
    assert.equal(both.code, 1);
    assert.match(both.output, /--certs-dir and --insecure exclude each other/);
    const other = await nodeStart('n1', ['--certs-dir', join(root, 'certs', 'n2')]);
    assert.equal(other.code, 1);
    assert.match(other.output, /node\.crt is for node n2, not n1/);
    const broken = await nodeStart('broken', ['--certs-dir', join(root, 'certs', 'broken')]);
    assert.equal(broken.code, 1);
    assert.ok(broken.output.includes(`${join(root, 'certs', 'broken', 'cluster.secret')}: not found`), broken.output);
  });

  it('--insecure starts and logs exactly one warning; --certs-dir starts without it', async () => {
    const insecure = await nodeStart('n1', ['--insecure'], flood);
    assert.equal(insecure.healthy, true, insecure.output);
    assert.equal(insecure.output.match(/insecure mode/g)?.length, 1, insecure.output);
    const secure = await nodeStart('n2', ['--certs-dir', join(root, 'certs', 'n2')]);
    assert.equal(secure.healthy, true, secure.output);
    assert.doesNotMatch(secure.output, /insecure mode/);
  });
});
