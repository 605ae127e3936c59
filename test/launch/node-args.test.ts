// The `dynakv node start` command line the launcher builds from a node spec: every field becomes
// its flag, nothing unset is passed (the node's defaults apply), a joiner gets --join instead of
// --peers, each security mode its flags (none for a checkout older than certificates), extra
// flags come last, and a bootstrap ring that leaves the node out is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeStartArgs, peersFlag, type NodeSpec } from '../../src/launch/node-args.ts';

const ring = [
  { id: 'n1', host: '127.0.0.1', peerPort: 7101 },
  { id: 'n2', host: '127.0.0.1', peerPort: 7102 },
];
const base: NodeSpec = { id: 'n1', httpPort: 7001, peerPort: 7101, dataDir: '/d/n1', ring: { peers: ring }, security: { mode: 'insecure' } };

describe('node start arguments', () => {
  it('passes the required flags and leaves unset ones to the node', () => {
    assert.deepEqual(nodeStartArgs(base), ['node', 'start', '--id', 'n1', '--http-port', '7001', '--peer-port', '7101', '--data-dir', '/d/n1', '--peers', 'n1=127.0.0.1:7101,n2=127.0.0.1:7102', '--insecure']);
  });

  it('passes host, cluster, log level, security and extra flags, extras last', () => {
    const args = nodeStartArgs({ ...base, host: '10.213.0.11', cluster: 'c1', logLevel: 'warn', security: { mode: 'certs', certsDir: '/c/n1' }, extraArgs: ['--http-limit', 'httpConnectionsMax=8'] });
    assert.deepEqual(args, [
      'node', 'start', '--id', 'n1', '--host', '10.213.0.11', '--http-port', '7001', '--peer-port', '7101', '--data-dir', '/d/n1',
      '--peers', 'n1=127.0.0.1:7101,n2=127.0.0.1:7102', '--cluster', 'c1', '--log-level', 'warn', '--certs-dir', '/c/n1', '--http-limit', 'httpConnectionsMax=8',
    ]);
  });

  it('starts a joiner with --join and no bootstrap ring', () => {
    const args = nodeStartArgs({ ...base, id: 'n6', ring: { join: '127.0.0.1:7101' } });
    assert.ok(args.includes('--join') && args[args.indexOf('--join') + 1] === '127.0.0.1:7101');
    assert.ok(!args.includes('--peers'));
  });

  it('passes neither --certs-dir nor --insecure when security is unstated', () => {
    const args = nodeStartArgs({ ...base, security: { mode: 'unstated' } });
    assert.ok(!args.includes('--insecure') && !args.includes('--certs-dir'));
  });

  it('refuses a bootstrap ring that does not hold the node', () => {
    assert.throws(() => nodeStartArgs({ ...base, id: 'n3' }), /does not hold n3/);
  });

  it('lists peers as ID=HOST:PORT, comma-separated', () => {
    assert.equal(peersFlag([{ id: 'a', host: 'h', peerPort: 1 }]), 'a=h:1');
    assert.equal(peersFlag([]), '');
  });
});
