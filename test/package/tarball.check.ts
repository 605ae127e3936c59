// The package as a user gets it: `npm pack` (which builds first), the tarball's contents (the
// built code and declarations, no sources, no dev entry), then an install into an empty folder
// from that tarball alone. There, with no tsx anywhere, `npx dynakv --help` answers,
// `npx dynakv cluster start` runs a secure 3-node cluster, a script importing the package root
// writes on one node and reads on another with the cluster's certs, the dashboard's static page is
// served, and SIGTERM stops every node. A consumer's TypeScript file type-checks against the
// shipped declarations. Needs the npm registry (or a warm npm cache) to install the dependencies,
// so it is not part of `npm test`: `npm run test:package` runs it, and CI (.ci/run) runs that.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freeBasePort } from '../support/base-port.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const NODES = 3;
/** npm pack builds; npm install fetches about 65 packages (seconds from a warm cache). */
const NPM_TIMEOUT_MS = 240_000;
/** Three node processes starting on 2 busy cores. */
const CLUSTER_UP_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const run = promisify(execFile);

/**
 * The environment of a user's shell: no tsx preloaded, and none of the npm variables `npm run`
 * sets for this checkout (npm_config_local_prefix would point npm back at it).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key === 'INIT_CWD' || key === 'npm_config_local_prefix' || key === 'npm_command' || key === 'npm_config_call') continue;
    if (key.startsWith('npm_package_') || key.startsWith('npm_lifecycle_')) continue;
    env[key] = value;
  }
  return env;
}


/** Resolves once no process of the group is left (nodes included); throws after timeoutMs. */
async function waitGroupGone(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return; // ESRCH: the group is empty
    }
    if (Date.now() > deadline) throw new Error(`processes of group ${pgid} still running ${timeoutMs} ms after Ctrl-C`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What a script importing the installed package does against the running cluster. */
const CLIENT_SCRIPT = `
import { ClusterClient, DynakvClient, credentialsFromCertsDir } from 'dynakv';
const [base] = process.argv.slice(2).map(Number);
const credentials = credentialsFromCertsDir('data/certs', { user: 'admin' });
const writer = new DynakvClient('https://127.0.0.1:' + base, { credentials });
const context = await writer.put('greeting', 'hello from the package', { contentType: 'text/plain' });
const reader = new ClusterClient(['https://127.0.0.1:' + (base + 2)], { credentials });
const read = await reader.get('greeting');
const page = await writer.request('/ui');
writer.close();
reader.close();
console.log(JSON.stringify({
  context: typeof context,
  found: read.found,
  values: read.found ? read.siblings.map((s) => [s.value.toString('utf8'), s.contentType]) : [],
  readContext: read.context.length > 0,
  ui: page.status === 200 && page.body.toString('utf8').includes('<html'),
}));
`;

/** A consumer's TypeScript: compiles only if the declarations carry the typed results. */
const CONSUMER_TS = `
import { ClientError, DynakvClient, type ReadResult, type ReadValue } from 'dynakv';
export async function firstText(client: DynakvClient, key: string): Promise<string | undefined> {
  const read: ReadResult = await client.get(key);
  const context: string = read.context;
  void context;
  if (!read.found) return undefined;
  const first: ReadValue | undefined = read.siblings[0];
  return first?.value.toString('utf8');
}
export const code: ClientError['code'] = 'BAD_ANSWER';
// @ts-expect-error a read result has no value without checking found and picking a sibling
export const wrong = (r: ReadResult) => r.siblings;
`;

describe('the packed package, installed in an empty folder', { timeout: NPM_TIMEOUT_MS * 2 + CLUSTER_UP_TIMEOUT_MS + 60_000 }, () => {
  let work: string;
  let app: string;
  let cluster: ChildProcess | undefined;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'dynakv-package-'));
    app = join(work, 'app');
    mkdirSync(app);
  });
  after(async () => {
    // Detached: npx, cluster start and its nodes are one process group; a failed test leaves none.
    if (cluster?.pid !== undefined) {
      try {
        process.kill(-cluster.pid, 'SIGINT');
        await waitGroupGone(cluster.pid, STOP_TIMEOUT_MS);
      } catch {
        try {
          process.kill(-cluster.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  let tarball: string;

  it('packs the built code, its declarations and the dashboard, and no sources', async () => {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, env: userEnv(), timeout: NPM_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    assert.ok(packed !== undefined, 'npm pack --json names the tarball');
    tarball = join(work, packed.filename);
    const files = packed.files.map((f) => f.path);
    for (const wanted of ['bin/dynakv.js', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/client/http-client.d.ts', 'dist/ui/static/index.html', 'README.md', 'package.json']) {
      assert.ok(files.includes(wanted), `${wanted} is in the tarball`);
    }
    const unwanted = files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.ts') && !f.endsWith('.d.ts') || f === 'bin/dynakv-dev.js');
    assert.deepEqual(unwanted, [], 'no sources, tests or dev entry in the tarball');
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.equal(manifest.dependencies.tsx, undefined, 'tsx is not a runtime dependency');
  });

  it('installs from the tarball and answers npx dynakv --help without tsx', async () => {
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: app, env: userEnv(), timeout: NPM_TIMEOUT_MS });
    assert.equal(existsSync(join(app, 'node_modules/tsx')), false, 'tsx is not installed with the package');
    const { stdout } = await run('npx', ['--no', '--', 'dynakv', '--help'], { cwd: app, env: userEnv(), timeout: 30_000 });
    assert.match(stdout, /Usage: dynakv/);
    assert.match(stdout, /cluster/);
  });

  it('types a consumer against the shipped declarations', async () => {
    writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS);
    const typeRoots = join(ROOT, 'node_modules/@types'); // @types/node: the consumer's own dev dependency
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, typeRoots: [typeRoots], types: ['node'] }, include: ['consumer.ts'] }),
    );
    // No skipLibCheck: the declarations themselves must check.
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, env: userEnv(), timeout: 60_000 }).catch((err: { stdout?: string }) => {
      assert.fail(`the consumer does not type-check:\n${err.stdout ?? String(err)}`);
    });
  });

  it('runs npx dynakv cluster start, serves the package client, and stops on Ctrl-C', async () => {
    const base = await freeBasePort(NODES);
    console.log(`cluster base port ${base}`);
    const child = spawn('npx', ['--no', '--', 'dynakv', 'cluster', 'start', '--nodes', String(NODES), '--base-port', String(base), '--log-format', 'json', '--log-level', 'warn'], {
      cwd: app,
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    cluster = child;
    let output = '';
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    await new Promise<void>((up, fail) => {
      const timer = setTimeout(() => fail(new Error(`cluster not up within ${CLUSTER_UP_TIMEOUT_MS} ms:\n${output}`)), CLUSTER_UP_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('is up')) {
          clearTimeout(timer);
          up();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        fail(new Error(`cluster start exited (${code}):\n${output}`));
      });
    });
    assert.match(output, /secure: peer mutual TLS/);

    writeFileSync(join(app, 'client-check.mjs'), CLIENT_SCRIPT);
    const { stdout } = await run(process.execPath, ['client-check.mjs', String(base)], { cwd: app, env: userEnv(), timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout), { context: 'string', found: true, values: [['hello from the package', 'text/plain']], readContext: true, ui: true });

    // Ctrl-C in a terminal: SIGINT to the whole foreground group (npm exec, its shell, cluster
    // start, the nodes). SIGTERM to npx alone would not do: npm exec runs the bin through sh,
    // which does not pass it on, and cluster start would be left behind.
    const closed = Promise.all([child.stdout!, child.stderr!].map((stream) => new Promise((done) => stream.once('close', done))));
    process.kill(-child.pid!, 'SIGINT');
    await closed;
    await exited;
    assert.match(output, /all nodes stopped/);
    await waitGroupGone(child.pid!, STOP_TIMEOUT_MS);
  });
});
