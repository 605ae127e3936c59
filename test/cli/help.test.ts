// Shows that every entry point explains itself (issue 14, section 6): `dynakv`, `npm run sim`,
// `npm run chaos` and `npm run bench` answer --help with their usage on stdout (exit 0), and an
// unknown flag or a bad value with one line on stderr that names it and points to --help (exit 2,
// no stack trace); and that dynakv's connection flags work before or after the command. Each
// entry point is spawned as its npm script runs it, all at once (a few at a time) in `before`,
// since each spawn costs about a second of loading TypeScript. The connection tests aim at a
// closed loopback port: the error naming that URL shows which node the command was pointed at.
// The shared parser of the tools (src/cli/args.ts) is also tested directly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseOptions } from '../../bench/options.ts';
import { parseToolArgs, UsageError, wholeNumber, type Tool } from '../../src/cli/args.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** Spawns at a time: each loads the TypeScript sources, on a machine that may be busy. */
const SPAWNS_CONCURRENT_MAX = 4;
const SPAWN_TIMEOUT_MS = 60_000;

/** How package.json runs each entry point. */
const ENTRY: Record<string, string[]> = {
  dynakv: [resolve(ROOT, 'bin/dynakv-dev.js')],
  sim: ['--import', 'tsx', resolve(ROOT, 'sim/cli.ts')],
  chaos: ['--import', 'tsx', resolve(ROOT, 'chaos/cli.ts')],
  bench: ['--import', 'tsx', resolve(ROOT, 'bench/run.ts')],
};

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(entry: string, args: readonly string[]): Promise<Run> {
  return new Promise((done, fail) => {
    // No DYNAKV_* from the environment: the tests say where the CLI connects.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DYNAKV_')));
    const child = spawn(process.execPath, [...ENTRY[entry]!, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: SPAWN_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Asserts a usage error: exit 2, one line on stderr matching `says`, pointing to --help, no stack frames. */
function assertUsageError(r: Run, says: RegExp): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.match(lines[0]!, says);
  assert.match(lines[0]!, /--help/);
  assert.equal(r.stdout, '');
}

function assertUsage(r: Run, mentions: readonly string[]): void {
  assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /usage/i);
  for (const flag of mentions) assert.ok(r.stdout.includes(flag), `usage mentions ${flag}:\n${r.stdout}`);
}

describe('every entry point explains itself', { timeout: 180_000 }, () => {
  const cases: Record<string, [entry: string, args: string[]]> = {
    'dynakv --help': ['dynakv', ['--help']],
    'dynakv -h': ['dynakv', ['-h']],
    'dynakv get --help': ['dynakv', ['get', '--help']],
    'dynakv get k --bogus': ['dynakv', ['get', 'k', '--bogus']],
    'dynakv --bogus get k': ['dynakv', ['--bogus', 'get', 'k']],
    'dynakv get k --r abc': ['dynakv', ['get', 'k', '--r', 'abc']],
    'dynakv cluster start --nodes 0': ['dynakv', ['cluster', 'start', '--nodes', '0']],
    'sim --help': ['sim', ['--help']],
    'sim --bogus': ['sim', ['--bogus']],
    'sim --seeds x': ['sim', ['--seeds', 'x']],
    'chaos --help': ['chaos', ['--help']],
    'chaos -h': ['chaos', ['-h']],
    'chaos --bogus': ['chaos', ['--bogus']],
    'chaos --faults kill,zap': ['chaos', ['--faults', 'kill,zap']],
    'bench --help': ['bench', ['--help']],
    'bench --bogus': ['bench', ['--bogus']],
    'bench --clients 0': ['bench', ['--clients', '0']],
  };
  const runs = new Map<string, Run>();
  let closedUrl = '';

  before(async () => {
    const port = await closedPort();
    closedUrl = `http://127.0.0.1:${port}`;
    const node = `127.0.0.1:${port}`;
    Object.assign(cases, {
      'dynakv --node URL get k': ['dynakv', ['--node', node, '--insecure', 'get', 'k']],
      'dynakv get k --node URL': ['dynakv', ['get', 'k', '--node', node, '--insecure']],
      'dynakv --node URL get k --insecure': ['dynakv', ['--node', node, 'get', 'k', '--insecure']],
      'dynakv --insecure --node URL members add': ['dynakv', ['--insecure', '--node', node, 'members', 'add', 'n6', '--peer', '127.0.0.1:1', '--no-wait']],
      'dynakv --node URL cluster start': ['dynakv', ['--node', node, 'cluster', 'start']],
    });
    const queue = Object.entries(cases);
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) runs.set(next[0], await run(...next[1]));
    };
    await Promise.all(Array.from({ length: SPAWNS_CONCURRENT_MAX }, worker));
  });
  const result = (name: string): Run => {
    const r = runs.get(name);
    assert.ok(r !== undefined, `ran ${name}`);
    return r;
  };

  it('dynakv --help and -h print the commands and the connection flags, exit 0', () => {
    for (const name of ['dynakv --help', 'dynakv -h']) assertUsage(result(name), ['cluster', 'get', 'members', '--node', '--certs-dir', '--insecure', 'before or after']);
    assertUsage(result('dynakv get --help'), ['dynakv get', '--node', '--r']);
  });

  it('dynakv: an unknown flag, before or after the command, or a bad value is one line and exit 2', () => {
    assertUsageError(result('dynakv get k --bogus'), /unknown option '--bogus'.*dynakv get --help/);
    assertUsageError(result('dynakv --bogus get k'), /unknown option '--bogus'.*dynakv --help/);
    assertUsageError(result('dynakv get k --r abc'), /--r must be a whole number/);
    assertUsageError(result('dynakv cluster start --nodes 0'), /--nodes must be 1\.\.50/);
  });

  it('dynakv: the connection flags work before or after the command', () => {
    // All three forms reach the same (closed) node: exit 2 (unreachable) naming its URL.
    for (const name of ['dynakv --node URL get k', 'dynakv get k --node URL', 'dynakv --node URL get k --insecure', 'dynakv --insecure --node URL members add']) {
      const r = result(name);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`cannot reach dynakv node at ${closedUrl}`), `${name}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
    // A connection flag before a command that talks to no node is refused, not ignored.
    assertUsageError(result('dynakv --node URL cluster start'), /--node does not apply to 'dynakv cluster start'/);
  });

  it('sim, chaos and bench answer --help with their usage and exit 0', () => {
    assertUsage(result('sim --help'), ['--seeds', '--start', '--profile', '--duration', '--regression']);
    for (const name of ['chaos --help', 'chaos -h']) assertUsage(result(name), ['--duration', '--seed', '--faults', '--network', '--routing']);
    assertUsage(result('bench --help'), ['--quick', '--workload', '--suite', '--clients']);
  });

  it('sim, chaos and bench answer an unknown flag or a bad value with one line and exit 2', () => {
    for (const tool of ['sim', 'chaos', 'bench']) assertUsageError(result(`${tool} --bogus`), new RegExp(`^${tool}: unknown option '--bogus' \\(npm run ${tool} -- --help`));
    assertUsageError(result('sim --seeds x'), /^sim: --seeds must be a whole number >= 1, got 'x'/);
    assertUsageError(result('chaos --faults kill,zap'), /^chaos: --faults must be one of kill, wipe, pause, isolate, split, got 'zap'/);
    assertUsageError(result('bench --clients 0'), /^bench: --clients must be a positive whole number, got '0'/);
  });
});

describe('the tools\' command-line parser (src/cli/args.ts)', () => {
  const tool: Tool<{ count: { type: 'string'; default: '3' }; loud: { type: 'boolean' } }> = {
    name: 't',
    invocation: 'npm run t --',
    usage: 'usage: t [--count N] [--loud]',
    options: { count: { type: 'string', default: '3' }, loud: { type: 'boolean' } },
  };
  const parse = (argv: string[]) => parseToolArgs(tool, argv, (v) => ({ count: wholeNumber('--count', v.count, 1, 10), loud: v.loud === true }));
  const usageError = (message: RegExp) => (err: unknown) => err instanceof UsageError && err.code === 'USAGE' && message.test(err.message) && !err.message.includes('\n');

  it('gives the checked values, or help for --help and -h (even beside a mistake)', () => {
    assert.deepEqual(parse([]), { count: 3, loud: false });
    assert.deepEqual(parse(['--count', '7', '--loud']), { count: 7, loud: true });
    assert.deepEqual(parse(['--count=7']), { count: 7, loud: false });
    for (const argv of [['--help'], ['-h'], ['--count', '0', '--help'], ['--bogus', '-h']]) assert.equal(parse(argv), 'help');
    assert.equal(parseOptions(['--help']), 'help');
  });

  it('throws one-line UsageErrors naming the flag or value', () => {
    assert.throws(() => parse(['--bogus']), usageError(/^unknown option '--bogus'$/));
    assert.throws(() => parse(['-x']), usageError(/^unknown option '-x'$/));
    assert.throws(() => parse(['--count']), usageError(/^option '--count' needs a value$/));
    assert.throws(() => parse(['--loud=yes']), usageError(/^option '--loud' takes no value$/));
    assert.throws(() => parse(['stray']), usageError(/^unexpected argument 'stray'/));
    assert.throws(() => parse(['--count', '11']), usageError(/^--count must be a whole number in 1\.\.10, got '11'$/));
    assert.throws(() => parse(['--count', '2.5']), usageError(/^--count must be a whole number/));
    // Whatever the command line holds stays one line on the terminal.
    assert.throws(() => parse(['--count', 'x\n\u001b[2J']), usageError(/got 'x\\u000a\\u001b\[2J'$/));
    assert.throws(() => parseOptions(['--suite', 'nope']), usageError(/^--suite: unknown suite 'nope'/));
  });
});
