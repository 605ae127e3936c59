// Shows the `dynakv` command against a secure node, as an operator runs it: from a directory
// whose ./data/certs holds the cluster's ca.crt and the admin credential (what `npm start`
// writes), put, get and members work with no flag but --node; --user picks a user credential,
// which may not change membership; --token works in place of a certificate; outside such a
// directory the command says to pass --certs-dir.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOneNode, type OneNode } from '../security/one-node.ts';
import { runDynakv } from '../support/dynakv-cli.ts';

const cli = runDynakv;

describe('the dynakv command against a secure node', { timeout: 120_000 }, () => {
  let node: OneNode | undefined;
  let operator = '';
  let bare = '';
  let address = '';

  before(async () => {
    node = await startOneNode('secure-cli', {}, { secure: true });
    address = new URL(node.url).host;
    operator = mkdtempSync(join(tmpdir(), 'dynakv-operator-'));
    mkdirSync(join(operator, 'data'));
    cpSync(node.certsDir, join(operator, 'data', 'certs'), { recursive: true });
    bare = mkdtempSync(join(tmpdir(), 'dynakv-bare-'));
  });
  after(async () => {
    await node?.stop();
    rmSync(operator, { recursive: true, force: true });
    rmSync(bare, { recursive: true, force: true });
  });

  it('puts, gets and lists members from a directory with ./data/certs', async () => {
    const put = await cli(operator, ['put', 'hello', 'world', '--node', address]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^ok/);
    const get = await cli(operator, ['get', 'hello'], { DYNAKV_NODE: address });
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^world$/m);
    const members = await cli(operator, ['members', '--node', address]);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, /^s1 \*\s+up/m);
  });

  it('uses the user credential with --user, which may read but not change membership', async () => {
    const get = await cli(operator, ['get', 'hello', '--node', address, '--user', 'alice']);
    assert.equal(get.code, 0, get.stderr);
    const add = await cli(operator, ['members', 'add', 'x9', '--peer', '127.0.0.1:1', '--no-wait', '--node', address], { DYNAKV_USER: 'alice' });
    assert.equal(add.code, 1);
    assert.match(add.stderr, /403: .*admin credential/);
  });

  it('sends a token given by flag or environment', async () => {
    const token = readFileSync(join(node!.certsDir, 'client.alice.token'), 'utf8').trim();
    const get = await cli(bare, ['get', 'hello', '--node', address, '--certs-dir', join(operator, 'data', 'certs'), '--token', token]);
    assert.equal(get.code, 0, get.stderr);
    const bad = await cli(operator, ['get', 'hello', '--node', address], { DYNAKV_TOKEN: 'dkv1.alice.user.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /401: token is not valid/);
  });

  it('says how to fix a missing CA, and a plain-http try at a secure port', async () => {
    const noCa = await cli(bare, ['get', 'hello', '--node', `https://${address}`]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /--certs-dir/);
    const plain = await cli(bare, ['get', 'hello', '--node', address]);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /https/);
  });
});
