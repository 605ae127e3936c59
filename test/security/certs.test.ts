// Shows that certs dirs made by createCa/createNodeCert/createClientCert load back with the right
// identity, secret and key (and pass openssl's own chain check), that nothing is overwritten, and
// that a hostile or broken certs dir is refused with a CertsError naming the file: foreign CA,
// expired, wrong key, client certificate as a node's, bad identity URIs, wrong secret length,
// secrets readable by others, oversized or garbage files.
import './../../src/security/reflect-polyfill.ts';
import { BasicConstraintsExtension, ExtendedKeyUsage, ExtendedKeyUsageExtension, SubjectAlternativeNameExtension, X509CertificateGenerator } from '@peculiar/x509';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CertsError,
  createAccessKeyFile,
  createCa,
  createClientCert,
  createNodeCert,
  loadClientCerts,
  loadNodeCerts,
  readClientToken,
  type CertsErrorCode,
} from '../../src/security/certs.ts';
import { identityOfCertificate, parseIdentityUri } from '../../src/security/identity.ts';
import { verifyToken } from '../../src/security/tokens.ts';
import { accessKeyLookup, roleOfAccessKey } from '../../src/security/access-keys.ts';

const YEAR_MS = 365 * 86_400_000;
let root: string;
let ca: string;
let caKey: string;

function rejects(code: CertsErrorCode, file: string, run: () => unknown, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof CertsError, `expected CertsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.file, file, error.message);
    assert.ok(error.message.startsWith(file), error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

async function rejectsAsync(code: CertsErrorCode, run: () => Promise<unknown>, message?: RegExp): Promise<void> {
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof CertsError, `expected CertsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

/** A fresh node certs dir `name` under root, signed by the test CA. */
async function nodeDir(name: string, id = name, extra: { now?: Date } = {}): Promise<string> {
  const dir = join(root, name);
  await createNodeCert({ id, certsDir: dir, caKey, ...extra });
  return dir;
}

describe('certs', () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-certs-'));
    ca = join(root, 'ca');
    caKey = join(ca, 'ca.key');
    await createCa({ certsDir: ca });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('create-ca writes ca.crt, a private key and a 32-byte secret, with safe modes, and never overwrites', async () => {
    assert.equal(statSync(join(ca, 'ca.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(ca, 'cluster.secret')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(ca, 'cluster.secret')).length, 32);
    assert.match(readFileSync(join(ca, 'ca.crt'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
    const before = readFileSync(join(ca, 'ca.key'));
    await rejectsAsync('CERTS_EXISTS', () => createCa({ certsDir: ca }), /refusing to overwrite/);
    assert.deepEqual(readFileSync(join(ca, 'ca.key')), before);
  });

  it('create-ca with --ca-key elsewhere puts the key and secret there, and create-node finds them', async () => {
    const certsDir = join(root, 'split-certs');
    const key = join(root, 'split-safe', 'my-ca.key');
    await createCa({ certsDir, caKey: key });
    assert.ok(existsSync(join(root, 'split-safe', 'cluster.secret')));
    assert.ok(!existsSync(join(certsDir, 'cluster.secret')));
    await createNodeCert({ id: 'n1', certsDir: join(certsDir, 'n1'), caKey: key });
    assert.equal(loadNodeCerts(join(certsDir, 'n1')).id, 'n1');
  });

  it('a node certs dir loads back: id, secret, matching key; openssl agrees on chain and names', async () => {
    const dir = join(root, 'n1');
    await createNodeCert({ id: 'n1', certsDir: dir, caKey, hosts: ['10.1.2.3', 'db.example.org'] });
    const certs = loadNodeCerts(dir);
    assert.equal(certs.id, 'n1');
    assert.deepEqual(certs.clusterSecret, readFileSync(join(ca, 'cluster.secret')));
    assert.equal(certs.ca, readFileSync(join(ca, 'ca.crt'), 'utf8'));
    assert.ok(certs.notAfter.getTime() > Date.now() + 4 * YEAR_MS);
    assert.equal(statSync(join(dir, 'node.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'cluster.secret')).mode & 0o777, 0o600);
    const verified = execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), join(dir, 'node.crt')], { encoding: 'utf8' });
    assert.match(verified, /OK/);
    const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(dir, 'node.crt')], { encoding: 'utf8' });
    for (const name of ['URI:dynakv://node/n1', 'DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:10.1.2.3', 'DNS:db.example.org']) {
      assert.ok(text.includes(name), `${name} in ${text}`);
    }
    await rejectsAsync('CERTS_EXISTS', () => createNodeCert({ id: 'n1', certsDir: dir, caKey }));
  });

  it('create-node refuses bad ids and hosts before writing anything', async () => {
    for (const id of ['', 'a b', 'x'.repeat(65), 'n1/../x', 'seed:1.2.3.4:5']) {
      await rejectsAsync('CERTS_BAD_ARGUMENT', () => createNodeCert({ id, certsDir: join(root, 'bad-id'), caKey }));
    }
    for (const host of ['a b', 'x,y', '-', 'a..b', `${'a'.repeat(64)}.com`]) {
      await rejectsAsync('CERTS_BAD_ARGUMENT', () => createNodeCert({ id: 'n9', certsDir: join(root, 'bad-host'), caKey, hosts: [host] }));
    }
    assert.ok(!existsSync(join(root, 'bad-id')) && !existsSync(join(root, 'bad-host')));
  });

  it('create-node refuses a certs dir holding another cluster\'s ca.crt or secret', async () => {
    const otherCa = join(root, 'other-ca');
    await createCa({ certsDir: otherCa });
    const dir = join(root, 'mixed');
    await createNodeCert({ id: 'm1', certsDir: dir, caKey: join(otherCa, 'ca.key') });
    rmSync(join(dir, 'node.crt'));
    rmSync(join(dir, 'node.key'));
    await rejectsAsync('CERTS_EXISTS', () => createNodeCert({ id: 'm1', certsDir: dir, caKey }), /from another cluster/);
  });

  it('a client certs dir loads back with its role, and its token verifies under the cluster secret', async () => {
    const dir = join(root, 'clients');
    await createClientCert({ name: 'alice', role: 'admin', certsDir: dir, caKey });
    await createClientCert({ name: 'bob', role: 'user', certsDir: dir, caKey });
    const alice = loadClientCerts(dir, 'alice');
    assert.equal(alice.role, 'admin');
    assert.equal(loadClientCerts(dir, 'bob').role, 'user');
    assert.ok(!existsSync(join(dir, 'cluster.secret')), 'a client never gets the cluster secret');
    const secret = readFileSync(join(ca, 'cluster.secret'));
    assert.deepEqual(verifyToken(secret, readClientToken(dir, 'alice')), { ok: true, name: 'alice', role: 'admin' });
    assert.equal(statSync(join(dir, 'client.alice.token')).mode & 0o777, 0o600);
    const verified = execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.crt'), join(dir, 'client.alice.crt')], { encoding: 'utf8' });
    assert.match(verified, /OK/);
    // bob's files under alice's name: the identity does not match the name asked for.
    copyFileSync(join(dir, 'client.bob.crt'), join(dir, 'client.carol.crt'));
    copyFileSync(join(dir, 'client.bob.key'), join(dir, 'client.carol.key'));
    rejects('CERTS_INVALID', join(dir, 'client.carol.crt'), () => loadClientCerts(dir, 'carol'), /not a certificate for client carol/);
    await rejectsAsync('CERTS_BAD_ARGUMENT', () => createClientCert({ name: 'x y', role: 'user', certsDir: dir, caKey }));
    await rejectsAsync('CERTS_BAD_ARGUMENT', () => createClientCert({ name: 'eve', role: 'root' as 'user', certsDir: dir, caKey }));
  });

  it('a client gets a DynamoDB access key file whose secret the cluster derives; create-access-key never overwrites', async () => {
    const dir = join(root, 'aws');
    await createClientCert({ name: 'dana', role: 'admin', certsDir: dir, caKey });
    await createAccessKeyFile({ name: 'app', role: 'user', certsDir: dir, caKey });
    const secret = readFileSync(join(ca, 'cluster.secret'));
    for (const [name, role] of [['dana', 'admin'], ['app', 'user']] as const) {
      const path = join(dir, `client.${name}.aws-credentials`);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const text = readFileSync(path, 'utf8');
      const id = /aws_access_key_id = (\S+)/.exec(text)![1]!;
      const key = /aws_secret_access_key = (\S+)/.exec(text)![1]!;
      assert.match(text, /^\[default\]\n/);
      assert.equal(roleOfAccessKey(id), role);
      assert.equal(accessKeyLookup(secret)(id), key);
    }
    await rejectsAsync('CERTS_EXISTS', () => createAccessKeyFile({ name: 'app', role: 'user', certsDir: dir, caKey }));
  });

  it('refuses missing files, naming each', async () => {
    const dir = await nodeDir('missing');
    for (const file of ['cluster.secret', 'node.key', 'node.crt', 'ca.crt']) {
      rmSync(join(dir, file));
      rejects('CERTS_MISSING', join(dir, file), () => loadNodeCerts(dir), /not found/);
    }
  });

  it('refuses a node certificate from a foreign CA, a swapped key, or a client certificate', async () => {
    const foreignCa = join(root, 'foreign-ca');
    await createCa({ certsDir: foreignCa });
    const foreign = join(root, 'foreign');
    await createNodeCert({ id: 'f1', certsDir: foreign, caKey: join(foreignCa, 'ca.key') });
    const dir = await nodeDir('victim');
    copyFileSync(join(foreign, 'node.crt'), join(dir, 'node.crt'));
    rejects('CERTS_INVALID', join(dir, 'node.crt'), () => loadNodeCerts(dir), /not signed by the CA/);

    const swapped = await nodeDir('swapped');
    const other = await nodeDir('other');
    copyFileSync(join(other, 'node.key'), join(swapped, 'node.key'));
    rejects('CERTS_INVALID', join(swapped, 'node.key'), () => loadNodeCerts(swapped), /is not the key of/);

    const asClient = await nodeDir('as-client');
    await createClientCert({ name: 'c', role: 'admin', certsDir: asClient, caKey });
    copyFileSync(join(asClient, 'client.c.crt'), join(asClient, 'node.crt'));
    copyFileSync(join(asClient, 'client.c.key'), join(asClient, 'node.key'));
    rejects('CERTS_INVALID', join(asClient, 'node.crt'), () => loadNodeCerts(asClient), /serverAuth/);
  });

  it('refuses expired and not-yet-valid certificates', async () => {
    const expired = await nodeDir('expired', 'e1', { now: new Date(Date.now() - 6 * YEAR_MS) });
    rejects('CERTS_INVALID', join(expired, 'node.crt'), () => loadNodeCerts(expired), /expired on/);
    const early = await nodeDir('early', 'e2', { now: new Date(Date.now() + YEAR_MS) });
    rejects('CERTS_INVALID', join(early, 'node.crt'), () => loadNodeCerts(early), /not valid before/);
  });

  it('refuses a wrong-sized secret, and secrets readable by group or others', async () => {
    const dir = await nodeDir('secret');
    const secretPath = join(dir, 'cluster.secret');
    const secret = readFileSync(secretPath);
    for (const bytes of [Buffer.alloc(0), secret.subarray(0, 31), Buffer.concat([secret, Buffer.from('\n')]), Buffer.alloc(1 << 20)]) {
      rmSync(secretPath);
      writeFileSync(secretPath, bytes, { mode: 0o600 });
      rejects('CERTS_INVALID', secretPath, () => loadNodeCerts(dir), /exactly 32 bytes|more than the 33 allowed/);
    }
    rmSync(secretPath);
    writeFileSync(secretPath, secret, { mode: 0o600 });
    assert.equal(loadNodeCerts(dir).id, 'secret');
    chmodSync(secretPath, 0o640);
    rejects('CERTS_UNSAFE_MODE', secretPath, () => loadNodeCerts(dir), /chmod 600/);
    chmodSync(secretPath, 0o600);
    chmodSync(join(dir, 'node.key'), 0o604);
    rejects('CERTS_UNSAFE_MODE', join(dir, 'node.key'), () => loadNodeCerts(dir));
  });

  it('refuses garbage, two certificates in one file, and oversized files', async () => {
    const dir = await nodeDir('garbage');
    const certPath = join(dir, 'node.crt');
    const good = readFileSync(certPath, 'utf8');
    const cases: Array<[string, RegExp]> = [
      ['hello', /exactly one PEM "CERTIFICATE" block/],
      [good + good, /exactly one PEM/],
      [good.replace('CERTIFICATE-----\n', 'CERTIFICATE-----\nAAAA'), /not a readable X.509 certificate/],
      [readFileSync(join(dir, 'node.key'), 'utf8'), /exactly one PEM "CERTIFICATE"/],
      [good + 'x'.repeat(70_000), /more than the 65536 allowed/],
      ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /not a readable X.509/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(certPath, text);
      rejects('CERTS_INVALID', certPath, () => loadNodeCerts(dir), message);
    }
    writeFileSync(certPath, good);
    writeFileSync(join(dir, 'ca.crt'), good);
    rejects('CERTS_INVALID', join(dir, 'ca.crt'), () => loadNodeCerts(dir), /not a self-signed CA/);
  });

  it('identity URIs: exactly the two forms, with ids by the id rule', () => {
    assert.deepEqual(parseIdentityUri('dynakv://node/n1'), { kind: 'node', id: 'n1' });
    assert.deepEqual(parseIdentityUri('dynakv://client/ops.bot?role=admin'), { kind: 'client', name: 'ops.bot', role: 'admin' });
    for (const bad of ['dynakv://node/', 'dynakv://node/a b', 'dynakv://node/n1/', 'dynakv://node/n1?x', 'DYNAKV://node/n1', 'dynakv://client/x', 'dynakv://client/x?role=root',
      'dynakv://client/x?role=admin&role=user', 'dynakv://node/' + 'a'.repeat(65), 'https://node/n1', 'dynakv://node/n1\n', 42, undefined]) {
      assert.equal(parseIdentityUri(bad), undefined, String(bad));
    }
  });

  it('a certificate must carry exactly one well-formed dynakv identity URI', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const make = async (uris: string[]) =>
      new Uint8Array(
        (
          await X509CertificateGenerator.createSelfSigned({
            serialNumber: '01', name: 'CN=x', keys, signingAlgorithm: alg, notBefore: new Date(), notAfter: new Date(Date.now() + YEAR_MS),
            extensions: [
              new BasicConstraintsExtension(false),
              new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth]),
              ...(uris.length === 0 ? [] : [new SubjectAlternativeNameExtension([...uris.map((value) => ({ type: 'url' as const, value })), { type: 'dns', value: 'localhost' }])]),
            ],
          })
        ).rawData,
      );
    assert.deepEqual(identityOfCertificate(await make(['dynakv://node/n1', 'https://example.org/'])), { ok: true, identity: { kind: 'node', id: 'n1' } });
    assert.match(String((identityOfCertificate(await make([])) as { reason: string }).reason), /no dynakv:\/\/ identity/);
    assert.match(String((identityOfCertificate(await make(['dynakv://node/n1', 'dynakv://node/n2'])) as { reason: string }).reason), /2 dynakv:\/\/ identity URIs/);
    assert.match(String((identityOfCertificate(await make(['dynakv://node/n 1'])) as { reason: string }).reason), /malformed identity URI/);
    assert.equal(identityOfCertificate(new Uint8Array([1, 2, 3])).ok, false);
    assert.equal(identityOfCertificate(new Uint8Array(20_000)).ok, false);
  });
});
