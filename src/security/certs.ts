// Certificates for a cluster: making them (`dynakv certs create-ca / create-node / create-client`)
// and loading a certs dir at start. ECDSA P-256 keys and X.509 certificates made with
// @peculiar/x509 on Node's WebCrypto (pure JS, in process: a cluster's certificates take
// milliseconds, so tests make their own). Files read back are hostile: each is size-bounded,
// parsed, chained to ca.crt, checked for expiry and identity, and any failure names the file.
import './reflect-polyfill.ts';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate as ParsedCertificate,
  X509CertificateGenerator,
  type JsonGeneralName,
} from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { NodeId } from '../env/transport.ts';
import { isNodeId, NODE_ID_RULE } from '../protocol/ids.ts';
import { credentialsFile, mintAccessKey } from './access-keys.ts';
import { CLUSTER_SECRET_BYTES } from './cluster-secret.ts';
import { identityOfCertificate, clientIdentityUri, nodeIdentityUri } from './identity.ts';
import { CLIENT_NAME_RULE, isClientName, isClientRole, mintToken, parseTokenShape, type ClientRole } from './tokens.ts';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const CLUSTER_SECRET_FILE = 'cluster.secret';
export const NODE_CERT_FILE = 'node.crt';
export const NODE_KEY_FILE = 'node.key';

export function clientFiles(name: string): { readonly cert: string; readonly key: string; readonly token: string; readonly awsCredentials: string } {
  if (!isClientName(name)) throw new CertsError('CERTS_BAD_ARGUMENT', `client name must be ${CLIENT_NAME_RULE}, got ${JSON.stringify(name)}`);
  return { cert: `client.${name}.crt`, key: `client.${name}.key`, token: `client.${name}.token`, awsCredentials: `client.${name}.aws-credentials` };
}

/** CockroachDB's defaults: a CA lives 10 years, the certificates it signs 5. */
export const caValidityDays = 3650;
export const leafValidityDays = 5 * 365;
/** notBefore is set this far in the past, so a node whose clock runs a little behind the signer's accepts a fresh certificate. */
export const notBeforeSkewMs = 3_600_000;
/** Largest PEM file (certificate or key) read; ours are under 1 KiB, so anything larger is not ours. */
export const pemFileBytesMax = 64 * 1024;
/** Largest token file read: a token and a newline. */
const tokenFileBytesMax = 256;

const DAY_MS = 86_400_000;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export type CertsErrorCode =
  | 'CERTS_BAD_ARGUMENT' // a name, role or host given on the command line breaks its rule
  | 'CERTS_EXISTS' // creating would overwrite a file
  | 'CERTS_MISSING' // a file to read is not there
  | 'CERTS_INVALID' // a file is there but is not what it must be
  | 'CERTS_UNSAFE_MODE'; // a secret is readable by group or others

/** An operating error about a certs dir; `file` is the path it is about, when there is one. */
export class CertsError extends Error {
  constructor(
    readonly code: CertsErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(file === undefined ? message : `${file}: ${message}`);
    this.name = 'CertsError';
  }
}

/** What a node needs for peer TLS (and HTTPS), loaded and checked from its certs dir. */
export interface NodeCerts {
  readonly dir: string;
  readonly id: NodeId;
  /** PEM texts, as node:tls takes them. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** CLUSTER_SECRET_BYTES bytes (NodeConfig.clusterSecret). */
  readonly clusterSecret: Buffer;
  readonly notAfter: Date;
}

/** A client's certificate and key, loaded and checked; for HTTPS with a client certificate. */
export interface ClientCerts {
  readonly dir: string;
  readonly name: string;
  readonly role: ClientRole;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly notAfter: Date;
}

// ---- creating ---------------------------------------------------------------------------------

export interface CreateCaOptions {
  readonly certsDir: string;
  /** Default: certsDir/ca.key. cluster.secret is written beside it. */
  readonly caKey?: string;
  readonly now?: Date;
}

export interface CreatedFiles {
  readonly written: readonly string[];
}

/** Writes ca.crt into certsDir, the CA key, and cluster.secret beside the key (plus a copy of ca.crt there, for create-node). Refuses to overwrite anything. */
export async function createCa(options: CreateCaOptions): Promise<CreatedFiles> {
  const certsDir = resolve(options.certsDir);
  const caKeyPath = resolve(options.caKey ?? join(certsDir, CA_KEY_FILE));
  const keyDir = dirname(caKeyPath);
  const secretPath = join(keyDir, CLUSTER_SECRET_FILE);
  const caCertPaths = [...new Set([join(certsDir, CA_CERT_FILE), join(keyDir, CA_CERT_FILE)])];
  refuseExisting([...caCertPaths, caKeyPath, secretPath]);

  const now = options.now ?? new Date();
  const keys = await generateKeys();
  const caCert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: 'CN=dynakv cluster CA',
    notBefore: new Date(now.getTime() - notBeforeSkewMs),
    notAfter: new Date(now.getTime() + caValidityDays * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const caPem = caCert.toString('pem') + '\n';
  mkdirPrivate(certsDir);
  mkdirPrivate(keyDir);
  writeSecret(caKeyPath, await privateKeyPem(keys.privateKey));
  writeSecret(secretPath, randomBytes(CLUSTER_SECRET_BYTES));
  for (const path of caCertPaths) writePublic(path, caPem);
  return { written: [...caCertPaths, caKeyPath, secretPath] };
}

export interface CreateNodeOptions {
  readonly id: string;
  readonly certsDir: string;
  readonly caKey: string;
  /** Extra DNS names or IP addresses for the certificate (localhost, 127.0.0.1 and ::1 are always in). */
  readonly hosts?: readonly string[];
  readonly now?: Date;
}

/** Writes node.crt and node.key into certsDir, with copies of ca.crt and cluster.secret from beside the CA key. */
export async function createNodeCert(options: CreateNodeOptions): Promise<CreatedFiles> {
  if (!isNodeId(options.id)) throw new CertsError('CERTS_BAD_ARGUMENT', `node id must be ${NODE_ID_RULE}, got ${JSON.stringify(options.id)}`);
  const hosts = ['localhost', '127.0.0.1', '::1', ...(options.hosts ?? [])];
  const names: JsonGeneralName[] = [{ type: 'url', value: nodeIdentityUri(options.id) }, ...dedupe(hosts).map(hostName)];
  const certsDir = resolve(options.certsDir);
  const certPath = join(certsDir, NODE_CERT_FILE);
  const keyPath = join(certsDir, NODE_KEY_FILE);
  refuseExisting([certPath, keyPath]);
  const authority = await loadAuthority(options.caKey);
  const copies = planCopies(certsDir, authority, true);

  const now = options.now ?? new Date();
  const keys = await generateKeys();
  const cert = await X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${options.id}`,
    issuer: authority.subject,
    notBefore: new Date(now.getTime() - notBeforeSkewMs),
    notAfter: new Date(Math.min(now.getTime() + leafValidityDays * DAY_MS, authority.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: authority.key,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
      // A node is a TLS server to its peers and HTTP clients, and a TLS client when it dials a peer.
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth]),
      new SubjectAlternativeNameExtension(names),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
      await AuthorityKeyIdentifierExtension.create(authority.publicKey),
    ],
  });
  mkdirPrivate(certsDir);
  writeSecret(keyPath, await privateKeyPem(keys.privateKey));
  writePublic(certPath, cert.toString('pem') + '\n');
  const copied = writeCopies(copies);
  return { written: [certPath, keyPath, ...copied] };
}

export interface CreateClientOptions {
  readonly name: string;
  readonly role: ClientRole;
  readonly certsDir: string;
  readonly caKey: string;
  readonly now?: Date;
}

/** Writes client.NAME.crt/.key (a client identity for TLS) and client.NAME.token (a bearer token) into certsDir, plus ca.crt if it is not there. */
export async function createClientCert(options: CreateClientOptions): Promise<CreatedFiles> {
  const files = clientFiles(options.name);
  if (!isClientRole(options.role)) throw new CertsError('CERTS_BAD_ARGUMENT', `client role must be admin or user, got ${JSON.stringify(options.role)}`);
  const certsDir = resolve(options.certsDir);
  const certPath = join(certsDir, files.cert);
  const keyPath = join(certsDir, files.key);
  const tokenPath = join(certsDir, files.token);
  refuseExisting([certPath, keyPath, tokenPath]);
  const authority = await loadAuthority(options.caKey);
  // A client gets the CA certificate (to check servers) but never the cluster secret.
  const copies = planCopies(certsDir, authority, false);

  const now = options.now ?? new Date();
  const keys = await generateKeys();
  const cert = await X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${options.name}`,
    issuer: authority.subject,
    notBefore: new Date(now.getTime() - notBeforeSkewMs),
    notAfter: new Date(Math.min(now.getTime() + leafValidityDays * DAY_MS, authority.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: authority.key,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth]),
      new SubjectAlternativeNameExtension([{ type: 'url', value: clientIdentityUri(options.name, options.role) }]),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
      await AuthorityKeyIdentifierExtension.create(authority.publicKey),
    ],
  });
  mkdirPrivate(certsDir);
  writeSecret(keyPath, await privateKeyPem(keys.privateKey));
  writePublic(certPath, cert.toString('pem') + '\n');
  writeSecret(tokenPath, `${mintToken(authority.clusterSecret, options.name, options.role)}\n`);
  const copied = writeCopies(copies);
  const awsPath = join(certsDir, files.awsCredentials);
  const access = existsSync(awsPath) ? [] : [writeAccessKey(awsPath, authority.clusterSecret, options.role)];
  return { written: [certPath, keyPath, tokenPath, ...access, ...copied] };
}

/** Writes a new DynamoDB access key for `role` as an AWS shared credentials file (mode 0600). */
function writeAccessKey(path: string, clusterSecret: Uint8Array, role: ClientRole): string {
  writeSecret(path, credentialsFile(mintAccessKey(clusterSecret, role, randomBytes)));
  return path;
}

/**
 * Writes client.NAME.aws-credentials into certsDir: a DynamoDB access key for `role` (secret
 * derived from the cluster secret, src/security/access-keys.ts) in the AWS shared credentials
 * format the SDKs, boto3 and the AWS CLI read (AWS_SHARED_CREDENTIALS_FILE). Refuses to overwrite.
 */
export async function createAccessKeyFile(options: { readonly name: string; readonly role: ClientRole; readonly certsDir: string; readonly caKey: string }): Promise<CreatedFiles> {
  const files = clientFiles(options.name);
  if (!isClientRole(options.role)) throw new CertsError('CERTS_BAD_ARGUMENT', `client role must be admin or user, got ${JSON.stringify(options.role)}`);
  const certsDir = resolve(options.certsDir);
  const path = join(certsDir, files.awsCredentials);
  refuseExisting([path]);
  const authority = await loadAuthority(options.caKey);
  mkdirPrivate(certsDir);
  const copied = writeCopies(planCopies(certsDir, authority, false));
  return { written: [writeAccessKey(path, authority.clusterSecret, options.role), ...copied] };
}

/** The CA's key and certificate and the cluster secret, read from beside the CA key and checked against each other. */
interface Authority {
  readonly key: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly subject: string;
  readonly notAfter: Date;
  readonly caPem: string;
  readonly caPath: string;
  readonly clusterSecret: Buffer;
  readonly secretPath: string;
}

async function loadAuthority(caKeyOption: string): Promise<Authority> {
  const caKeyPath = resolve(caKeyOption);
  const keyDir = dirname(caKeyPath);
  const caPath = join(keyDir, CA_CERT_FILE);
  const secretPath = join(keyDir, CLUSTER_SECRET_FILE);
  const ca = readCaCertificate(caPath, Date.now());
  const keyPem = readBounded(caKeyPath, pemFileBytesMax, { secret: true }).toString('utf8');
  const keyObject = parsePrivateKey(keyPem, caKeyPath);
  if (!ca.node.checkPrivateKey(keyObject)) throw new CertsError('CERTS_INVALID', `is not the key of ${caPath}`, caKeyPath);
  const clusterSecret = readClusterSecret(secretPath);
  let key: CryptoKey;
  let publicKey: CryptoKey;
  try {
    const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
    key = await webcrypto.subtle.importKey('pkcs8', pkcs8, ALGORITHM, false, ['sign']);
    publicKey = await webcrypto.subtle.importKey('spki', ca.node.publicKey.export({ type: 'spki', format: 'der' }), ALGORITHM, true, ['verify']);
  } catch {
    throw new CertsError('CERTS_INVALID', 'is not an ECDSA P-256 key', caKeyPath);
  }
  return { key, publicKey, subject: new ParsedCertificate(ca.pem).subject, notAfter: ca.notAfter, caPem: ca.pem, caPath, clusterSecret, secretPath };
}

interface Copy {
  readonly path: string;
  readonly data: string | Buffer;
  readonly secret: boolean;
}

/** ca.crt (and cluster.secret for a node) to put into certsDir; one already there must be the same, or it belongs to another cluster. */
function planCopies(certsDir: string, authority: Authority, withSecret: boolean): Copy[] {
  const wanted: Copy[] = [{ path: join(certsDir, CA_CERT_FILE), data: authority.caPem, secret: false }];
  if (withSecret) wanted.push({ path: join(certsDir, CLUSTER_SECRET_FILE), data: authority.clusterSecret, secret: true });
  const copies: Copy[] = [];
  for (const copy of wanted) {
    if (!existsSync(copy.path)) {
      copies.push(copy);
      continue;
    }
    const present = readBounded(copy.path, pemFileBytesMax, { secret: copy.secret });
    if (!present.equals(Buffer.from(copy.data))) throw new CertsError('CERTS_EXISTS', 'exists and is from another cluster; use another --certs-dir', copy.path);
  }
  return copies;
}

function writeCopies(copies: readonly Copy[]): string[] {
  for (const copy of copies) (copy.secret ? writeSecret : writePublic)(copy.path, copy.data);
  return copies.map((c) => c.path);
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n';
}

/** 16 random bytes with the top bit clear: a positive, unique serial (RFC 5280 allows up to 20 bytes). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

const DNS_LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^(?=.{1,253}$)${DNS_LABEL}(\\.${DNS_LABEL})*$`);

function hostName(host: string): JsonGeneralName {
  if (isIP(host) !== 0) return { type: 'ip', value: host };
  if (DNS_NAME.test(host)) return { type: 'dns', value: host.toLowerCase() };
  throw new CertsError('CERTS_BAD_ARGUMENT', `--host ${JSON.stringify(host)} is neither an IP address nor a DNS name`);
}

// ---- files ------------------------------------------------------------------------------------

function refuseExisting(paths: readonly string[]): void {
  for (const path of paths) if (existsSync(path)) throw new CertsError('CERTS_EXISTS', 'already exists; refusing to overwrite it', path);
}

function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** 'wx': fails if the file appeared since refuseExisting, so nothing is ever overwritten. */
function writeSecret(path: string, data: string | Buffer): void {
  writeFileSync(path, data, { mode: 0o600, flag: 'wx' });
}

function writePublic(path: string, data: string | Buffer): void {
  writeFileSync(path, data, { mode: 0o644, flag: 'wx' });
}

/**
 * Reads a whole regular file of at most `bytesMax` bytes. A secret must not be readable by group
 * or others (as ssh and CockroachDB insist): anyone who can read it can act as this cluster.
 */
function readBounded(path: string, bytesMax: number, options: { secret: boolean }): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw new CertsError('CERTS_MISSING', 'not found', path);
    throw new CertsError('CERTS_INVALID', `cannot be read (${typeof code === 'string' ? code : 'error'})`, path);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new CertsError('CERTS_INVALID', 'is not a regular file', path);
    if (options.secret && process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new CertsError('CERTS_UNSAFE_MODE', `is readable by group or others (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 on it`, path);
    }
    if (stat.size > bytesMax) throw new CertsError('CERTS_INVALID', `is ${stat.size} bytes, more than the ${bytesMax} allowed`, path);
    // One byte more than allowed, so a file that grew since fstat is caught too.
    const buffer = Buffer.alloc(bytesMax + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > bytesMax) throw new CertsError('CERTS_INVALID', `is more than ${bytesMax} bytes`, path);
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

function readClusterSecret(path: string): Buffer {
  const secret = readBounded(path, CLUSTER_SECRET_BYTES + 1, { secret: true });
  if (secret.length !== CLUSTER_SECRET_BYTES) {
    throw new CertsError('CERTS_INVALID', `must be exactly ${CLUSTER_SECRET_BYTES} bytes, found ${secret.length}`, path);
  }
  return Buffer.from(secret);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The text of a file that holds exactly one PEM block labelled `label` (and nothing else but whitespace). */
function singlePem(text: string, label: string, path: string): string {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const rest = text.replace(PEM_BLOCK, '').trim();
  if (blocks.length !== 1 || blocks[0]![1] !== label || rest !== '') {
    throw new CertsError('CERTS_INVALID', `must hold exactly one PEM "${label}" block`, path);
  }
  return blocks[0]![0];
}

interface ReadCertificate {
  readonly pem: string;
  readonly node: X509Certificate;
  readonly notAfter: Date;
}

function readCertificate(path: string, nowMs: number): ReadCertificate {
  const pem = singlePem(readBounded(path, pemFileBytesMax, { secret: false }).toString('utf8'), 'CERTIFICATE', path);
  let node: X509Certificate;
  try {
    node = new X509Certificate(pem);
  } catch {
    throw new CertsError('CERTS_INVALID', 'is not a readable X.509 certificate', path);
  }
  const notBefore = Date.parse(node.validFrom);
  const notAfter = Date.parse(node.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new CertsError('CERTS_INVALID', 'has an unreadable validity period', path);
  if (nowMs < notBefore) throw new CertsError('CERTS_INVALID', `is not valid before ${new Date(notBefore).toISOString()} (check this machine's clock)`, path);
  if (nowMs > notAfter) throw new CertsError('CERTS_INVALID', `expired on ${new Date(notAfter).toISOString()}`, path);
  return { pem: pem + '\n', node, notAfter: new Date(notAfter) };
}

function readCaCertificate(path: string, nowMs: number): ReadCertificate {
  const ca = readCertificate(path, nowMs);
  if (!ca.node.ca || !ca.node.checkIssued(ca.node) || !ca.node.verify(ca.node.publicKey)) {
    throw new CertsError('CERTS_INVALID', 'is not a self-signed CA certificate', path);
  }
  return ca;
}

function parsePrivateKey(pem: string, path: string): KeyObject {
  const block = singlePem(pem, 'PRIVATE KEY', path);
  try {
    return createPrivateKey(block);
  } catch {
    throw new CertsError('CERTS_INVALID', 'is not a readable PKCS#8 private key', path);
  }
}

/** A leaf certificate and its key: signed by `ca`, with the usages `ekus`, and the key belongs to it. */
function readLeaf(certPath: string, keyPath: string, ca: ReadCertificate, ekus: readonly string[], nowMs: number): { cert: ReadCertificate; keyPem: string } {
  const cert = readCertificate(certPath, nowMs);
  if (cert.node.ca) throw new CertsError('CERTS_INVALID', 'is a CA certificate, not a node or client one', certPath);
  if (!cert.node.checkIssued(ca.node) || !cert.node.verify(ca.node.publicKey)) {
    throw new CertsError('CERTS_INVALID', `is not signed by the CA in ${join(dirname(certPath), CA_CERT_FILE)}`, certPath);
  }
  const usages = cert.node.keyUsage ?? [];
  for (const eku of ekus) {
    if (!usages.includes(eku)) throw new CertsError('CERTS_INVALID', `lacks the ${eku === OID_SERVER_AUTH ? 'serverAuth' : 'clientAuth'} extended key usage`, certPath);
  }
  const keyPem = singlePem(readBounded(keyPath, pemFileBytesMax, { secret: true }).toString('utf8'), 'PRIVATE KEY', keyPath);
  if (!cert.node.checkPrivateKey(parsePrivateKey(keyPem, keyPath))) throw new CertsError('CERTS_INVALID', `is not the key of ${certPath}`, keyPath);
  return { cert, keyPem: keyPem + '\n' };
}

// ---- loading ----------------------------------------------------------------------------------

/** Loads and checks a node's certs dir: ca.crt, node.crt, node.key, cluster.secret. Throws CertsError naming the file. */
export function loadNodeCerts(dir: string, nowMs: number = Date.now()): NodeCerts {
  const root = resolve(dir);
  const ca = readCaCertificate(join(root, CA_CERT_FILE), nowMs);
  const certPath = join(root, NODE_CERT_FILE);
  const { cert, keyPem } = readLeaf(certPath, join(root, NODE_KEY_FILE), ca, [OID_SERVER_AUTH, OID_CLIENT_AUTH], nowMs);
  const identity = identityOfCertificate(cert.node.raw);
  if (!identity.ok) throw new CertsError('CERTS_INVALID', identity.reason, certPath);
  if (identity.identity.kind !== 'node') throw new CertsError('CERTS_INVALID', 'is a client certificate, not a node one', certPath);
  const clusterSecret = readClusterSecret(join(root, CLUSTER_SECRET_FILE));
  return { dir: root, id: identity.identity.id, ca: ca.pem, cert: cert.pem, key: keyPem, clusterSecret, notAfter: cert.notAfter };
}

/** Loads and checks a client's certificate: ca.crt, client.NAME.crt, client.NAME.key. Throws CertsError naming the file. */
export function loadClientCerts(dir: string, name: string, nowMs: number = Date.now()): ClientCerts {
  const root = resolve(dir);
  const files = clientFiles(name);
  const ca = readCaCertificate(join(root, CA_CERT_FILE), nowMs);
  const certPath = join(root, files.cert);
  const { cert, keyPem } = readLeaf(certPath, join(root, files.key), ca, [OID_CLIENT_AUTH], nowMs);
  const identity = identityOfCertificate(cert.node.raw);
  if (!identity.ok) throw new CertsError('CERTS_INVALID', identity.reason, certPath);
  if (identity.identity.kind !== 'client' || identity.identity.name !== name) {
    throw new CertsError('CERTS_INVALID', `is not a certificate for client ${name}`, certPath);
  }
  return { dir: root, name, role: identity.identity.role, ca: ca.pem, cert: cert.pem, key: keyPem, notAfter: cert.notAfter };
}

/** Reads client.NAME.token from a certs dir: checks its shape only (the client does not hold the secret to check its MAC). */
export function readClientToken(dir: string, name: string): string {
  const path = join(resolve(dir), clientFiles(name).token);
  const token = readBounded(path, tokenFileBytesMax, { secret: true }).toString('utf8').trim();
  const shape = parseTokenShape(token);
  if (shape === undefined) throw new CertsError('CERTS_INVALID', 'is not a dynakv token', path);
  if (shape.name !== name) throw new CertsError('CERTS_INVALID', `holds a token for client ${shape.name}, not ${name}`, path);
  return token;
}

// ---- a whole local cluster ----------------------------------------------------------------------

export interface ClusterCertsOptions {
  /** The CA's dir: ca.crt, ca.key, cluster.secret and the clients' files; each node's dir is certsDir/<id>. */
  readonly certsDir: string;
  readonly nodeIds: readonly string[];
  /** Extra names or addresses for every node certificate (or per node, by id). */
  readonly hosts?: readonly string[] | ((id: string) => readonly string[]);
  /** Client credentials to make in certsDir. */
  readonly clients?: ReadonlyArray<{ readonly name: string; readonly role: ClientRole }>;
}

export interface ClusterCerts {
  readonly certsDir: string;
  readonly caKey: string;
  /** The certs dir of each node, by id. */
  readonly nodeDirs: ReadonlyMap<string, string>;
  /** Files written by this call; empty when everything was already there. */
  readonly written: readonly string[];
}

/**
 * Makes whatever is missing of a local cluster's certificates: the CA (if certsDir has no ca.key),
 * a certs dir per node (if it has no node.crt) and the clients (if their token is missing). Used
 * by `dynakv cluster start` on first start and by the test, chaos and benchmark launchers.
 */
export async function ensureClusterCerts(options: ClusterCertsOptions): Promise<ClusterCerts> {
  const certsDir = resolve(options.certsDir);
  const caKey = join(certsDir, CA_KEY_FILE);
  const written: string[] = [];
  if (!existsSync(caKey)) written.push(...(await createCa({ certsDir })).written);
  const nodeDirs = new Map<string, string>();
  for (const id of options.nodeIds) {
    const dir = join(certsDir, id);
    nodeDirs.set(id, dir);
    if (existsSync(join(dir, NODE_CERT_FILE))) continue;
    const hosts = typeof options.hosts === 'function' ? options.hosts(id) : (options.hosts ?? []);
    written.push(...(await createNodeCert({ id, certsDir: dir, caKey, hosts })).written);
  }
  for (const client of options.clients ?? []) {
    if (existsSync(join(certsDir, clientFiles(client.name).token))) {
      // A certs dir made before the DynamoDB API gets the client's access key now.
      if (!existsSync(join(certsDir, clientFiles(client.name).awsCredentials))) written.push(...(await createAccessKeyFile({ ...client, certsDir, caKey })).written);
      continue;
    }
    written.push(...(await createClientCert({ ...client, certsDir, caKey })).written);
  }
  return { certsDir, caKey, nodeDirs, written };
}
