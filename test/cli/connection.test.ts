// Shows how the CLI picks its node and credential (src/cli/connection.ts): secure by default when
// ./data/certs (what `npm start` writes) holds a ca.crt, https to 127.0.0.1:7001 with the admin
// client's certificate; flags win over environment variables; HOST:PORT gets the scheme of the
// mode; only --insecure / DYNAKV_INSECURE talk plain http (an http:// URL alone does not, and no
// certs dir never falls back to it: finding 5 of the attack review of issue 13); a token
// replaces the certificate; and https without a CA, plain http without --insecure, or
// --insecure with an https URL, are refused with the fix in the message.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveConnection } from '../../src/cli/connection.ts';
import { createCa, createClientCert } from '../../src/security/certs.ts';

describe('resolveConnection', () => {
  let root = '';
  let started = ''; // a directory like the one `npm start` ran in
  let bare = ''; // a directory without ./data/certs
  let certs = '';

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-connection-'));
    started = join(root, 'started');
    bare = join(root, 'bare');
    mkdirSync(bare);
    certs = join(started, 'data', 'certs');
    const caKey = join(root, 'ca', 'ca.key');
    await createCa({ certsDir: join(root, 'ca'), caKey });
    await createClientCert({ name: 'admin', role: 'admin', certsDir: certs, caKey });
    await createClientCert({ name: 'alice', role: 'user', certsDir: certs, caKey });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('uses https and the admin certificate from ./data/certs when it is there', () => {
    const c = resolveConnection({}, {}, started);
    assert.equal(c.url, 'https://127.0.0.1:7001');
    assert.equal(c.credentials?.cert, readFileSync(join(certs, 'client.admin.crt'), 'utf8'));
    assert.equal(c.credentials?.ca, readFileSync(join(certs, 'ca.crt'), 'utf8'));
    assert.equal(c.credentials?.token, undefined);
  });

  it('refuses to guess where there are no certs: says how to pass credentials, or --insecure', () => {
    assert.throws(() => resolveConnection({}, {}, bare), (err: Error) => {
      assert.match(err.message, /--certs-dir DIR \(or DYNAKV_CERTS_DIR\)/);
      assert.match(err.message, /--insecure/);
      assert.match(err.message, /https:\/\/127\.0\.0\.1:7001/);
      return true;
    });
    assert.throws(() => resolveConnection({ node: '127.0.0.1:7003' }, {}, bare), /--certs-dir/);
  });

  it('takes an http:// URL only with --insecure or DYNAKV_INSECURE', () => {
    assert.throws(() => resolveConnection({ node: 'http://127.0.0.1:7009' }, {}, started), /plain http.*--insecure/);
    assert.throws(() => resolveConnection({}, { DYNAKV_NODE: 'http://127.0.0.1:7009' }, bare), /plain http.*--insecure/);
    assert.deepEqual(resolveConnection({ node: 'http://127.0.0.1:7009', insecure: true }, {}, started), { url: 'http://127.0.0.1:7009', insecure: true });
    assert.deepEqual(resolveConnection({ node: 'http://127.0.0.1:7009' }, { DYNAKV_INSECURE: 'yes' }, bare), { url: 'http://127.0.0.1:7009', insecure: true });
  });

  it('gives HOST:PORT the scheme of the mode, and takes https URLs as they are', () => {
    assert.equal(resolveConnection({ node: '127.0.0.1:7003' }, {}, started).url, 'https://127.0.0.1:7003');
    assert.equal(resolveConnection({}, { DYNAKV_NODE: 'localhost:7002' }, started).url, 'https://localhost:7002');
    assert.equal(resolveConnection({ node: '127.0.0.1:7003', insecure: true }, {}, bare).url, 'http://127.0.0.1:7003');
    assert.equal(resolveConnection({ node: 'https://127.0.0.1:7009' }, {}, started).url, 'https://127.0.0.1:7009');
  });

  it('lets flags win over environment variables', () => {
    const env = { DYNAKV_NODE: '127.0.0.1:7005', DYNAKV_USER: 'alice', DYNAKV_CERTS_DIR: join(root, 'nowhere') };
    const c = resolveConnection({ node: '127.0.0.1:7006', user: 'admin', certsDir: certs }, env, bare);
    assert.equal(c.url, 'https://127.0.0.1:7006');
    assert.equal(c.credentials?.cert, readFileSync(join(certs, 'client.admin.crt'), 'utf8'));
    const fromEnv = resolveConnection({}, { DYNAKV_USER: 'alice', DYNAKV_CERTS_DIR: certs }, bare);
    assert.equal(fromEnv.credentials?.cert, readFileSync(join(certs, 'client.alice.crt'), 'utf8'));
  });

  it('talks plain http with --insecure or DYNAKV_INSECURE, even where certs are', () => {
    assert.deepEqual(resolveConnection({ insecure: true }, {}, started), { url: 'http://127.0.0.1:7001', insecure: true });
    assert.deepEqual(resolveConnection({}, { DYNAKV_INSECURE: '1' }, started), { url: 'http://127.0.0.1:7001', insecure: true });
    assert.deepEqual(resolveConnection({ insecure: true }, {}, bare), { url: 'http://127.0.0.1:7001', insecure: true });
    assert.equal(resolveConnection({}, { DYNAKV_INSECURE: '0' }, started).url, 'https://127.0.0.1:7001');
  });

  it('sends a given token instead of the certificate, still checking the node with the CA', () => {
    const c = resolveConnection({ token: 'dkv1.x.user.abc' }, {}, started);
    assert.deepEqual(c.credentials, { ca: readFileSync(join(certs, 'ca.crt'), 'utf8'), token: 'dkv1.x.user.abc' });
    assert.equal(resolveConnection({}, { DYNAKV_TOKEN: 't' }, started).credentials?.token, 't');
  });

  it('refuses https without a CA, --insecure with an https URL, and a user with no credential', () => {
    assert.throws(() => resolveConnection({ node: 'https://127.0.0.1:7001' }, {}, bare), /--certs-dir/);
    assert.throws(() => resolveConnection({ insecure: true, node: 'https://127.0.0.1:7001' }, {}, started), /--insecure/);
    assert.throws(() => resolveConnection({ user: 'bob' }, {}, started), /create-client bob/);
    assert.throws(() => resolveConnection({ node: 'ftp://x' }, {}, started), /http/);
  });
});
