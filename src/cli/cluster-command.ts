// `dynakv cluster start`: a local cluster of node processes on loopback (HTTP ports from
// --base-port, peer ports 100 above). Secure unless --insecure: on first start it makes the
// cluster's certificates under <data-dir>/certs (CA, cluster secret, a certs dir per node, an
// admin credential) and says where they are. Prints the node table and the dashboard URL once
// every node answers /health, forwards their logs (short readable lines in a terminal, the
// nodes' JSON lines otherwise), and stops them all on Ctrl-C or SIGTERM. The processes
// themselves (arguments, health wait, stop) are src/launch/'s.
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ClientCredentials } from '../client/http-client.ts';
import { LaunchedNode } from '../launch/launched-node.ts';
import type { NodeSecurity } from '../launch/node-args.ts';
import { forwardedLine } from './log-lines.ts';
import { formatTable } from './table.ts';
import { parsePort } from './node-command.ts';
import { CA_CERT_FILE, CA_KEY_FILE, CLUSTER_SECRET_FILE, clientFiles, ensureClusterCerts } from '../security/certs.ts';

/** The credential `npm start` makes for the CLI and the dashboard. */
export const LOCAL_ADMIN_CLIENT = 'admin';

const HEALTH_WAIT_MS = 30_000;

export interface ClusterStartOptions {
  readonly nodes: string;
  readonly basePort: string;
  readonly dataDir: string;
  readonly logLevel: string;
  readonly logFormat: string;
  readonly insecure?: boolean;
}

interface Member {
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

/** Most nodes `cluster start` runs: each is a process on this machine. */
const CLUSTER_NODES_MAX = 50;

/** A --nodes value: 1..CLUSTER_NODES_MAX. */
export function parseNodeCount(text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > CLUSTER_NODES_MAX) throw new Error(`--nodes must be 1..${CLUSTER_NODES_MAX}, got ${text}`);
  return count;
}

export async function runClusterStart(options: ClusterStartOptions): Promise<void> {
  const count = parseNodeCount(options.nodes);
  const basePort = parsePort(options.basePort, '--base-port');
  const dataDir = resolve(options.dataDir);
  const members: Member[] = Array.from({ length: count }, (_, i) => ({
    id: `n${i + 1}`,
    httpPort: basePort + i,
    peerPort: basePort + 100 + i,
    dataDir: resolve(dataDir, `n${i + 1}`),
  }));
  if (!['auto', 'pretty', 'json'].includes(options.logFormat)) throw new Error(`--log-format must be auto, pretty or json, got ${options.logFormat}`);
  const pretty = options.logFormat === 'pretty' || (options.logFormat === 'auto' && process.stdout.isTTY === true);
  const peers = members.map((m) => ({ id: m.id, host: '127.0.0.1', peerPort: m.peerPort }));
  let stopping = false;
  const certsDir = join(dataDir, 'certs');
  let securityOf: (id: string) => NodeSecurity = () => ({ mode: 'insecure' });
  if (options.insecure !== true) {
    const certs = await ensureClusterCerts({
      certsDir,
      nodeIds: members.map((m) => m.id),
      hosts: ['127.0.0.1'],
      clients: [{ name: LOCAL_ADMIN_CLIENT, role: 'admin' }],
    });
    securityOf = (id) => ({ mode: 'certs', certsDir: certs.nodeDirs.get(id)! });
    if (certs.written.length > 0) {
      const shown = (path: string) => relative(process.cwd(), path) || '.';
      console.log(`created ${certs.written.length} certificate files under ${shown(certsDir)}:`);
      console.log(`  cluster CA: ${shown(join(certsDir, 'ca.crt'))}, its key ${shown(join(certsDir, CA_KEY_FILE))} and ${shown(join(certsDir, CLUSTER_SECRET_FILE))} (keep these two private)`);
      console.log(`  node certs dirs: ${members.map((m) => shown(certs.nodeDirs.get(m.id)!)).join(', ')}`);
      const admin = clientFiles(LOCAL_ADMIN_CLIENT);
      console.log(`  admin credential: ${shown(join(certsDir, admin.token))} (bearer token), ${shown(join(certsDir, admin.cert))} and ${shown(join(certsDir, admin.key))}`);
    }
  }

  // Secure nodes serve HTTPS with certificates from the cluster's CA (/health needs no credential).
  const scheme = options.insecure === true ? 'http' : 'https';
  const health: ClientCredentials = options.insecure === true ? {} : { ca: readFileSync(join(certsDir, CA_CERT_FILE)) };
  const forward = (id: string) => (line: string, stream: 'stdout' | 'stderr') => {
    const out = stream === 'stdout' ? process.stdout : process.stderr;
    // Escaped either way: log fields carry strings peers supplied (finding 9 of issue 13).
    out.write(`${forwardedLine(line, id, { pretty, colour: out.isTTY === true })}\n`);
  };
  const nodes = members.map(
    (m) =>
      new LaunchedNode({
        node: { id: m.id, httpPort: m.httpPort, peerPort: m.peerPort, dataDir: m.dataDir, ring: { peers }, logLevel: options.logLevel, security: securityOf(m.id) },
        // Pretty: one short line per log entry; otherwise the nodes' JSON lines unchanged (each names its node).
        output: { lines: forward(m.id) },
        health: { url: `${scheme}://127.0.0.1:${m.httpPort}`, credentials: health, timeoutMs: HEALTH_WAIT_MS },
      }),
  );
  for (const node of nodes) {
    node.launch().on('exit', (code, signal) => {
      if (!stopping) console.error(`[${node.id}] exited (${signal ?? `code ${code}`}); the other nodes keep serving`);
    });
  }

  const stopAll = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping ${nodes.length} nodes...`);
    await Promise.all(nodes.map((n) => n.stop()));
    console.log('all nodes stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll('SIGINT'));
  process.on('SIGTERM', () => void stopAll('SIGTERM'));

  // A node that exited has said so above; the others keep serving, so the cluster still comes up.
  const healthy = (node: LaunchedNode) =>
    node.waitHealthy().catch((err: unknown) => {
      if (stopping || !node.running) return;
      throw err;
    });
  await Promise.all(nodes.map(healthy));
  if (stopping) return;
  const mode = options.insecure === true ? 'INSECURE: peers unauthenticated and unencrypted' : `secure: peer mutual TLS, certificates in ${certsDir}`;
  console.log(`dynakv cluster of ${count} nodes is up (data in ${dataDir}; ${mode})\n`);
  console.log(
    formatTable(
      ['node', 'http', 'peer', 'data'],
      members.map((m) => [m.id, `${scheme}://127.0.0.1:${m.httpPort}`, `127.0.0.1:${m.peerPort}`, m.dataDir]),
    ),
  );
  console.log(`\ndashboard: ${scheme}://127.0.0.1:${basePort}/ui   (every node serves one; metrics at /metrics)`);
  if (options.insecure !== true) {
    const shown = relative(process.cwd(), join(certsDir, clientFiles(LOCAL_ADMIN_CLIENT).token)) || '.';
    console.log(`  sign in with the token in ${shown}; the browser does not know this cluster's CA (${relative(process.cwd(), join(certsDir, CA_CERT_FILE))}): import it, or accept the warning`);
    const aws = relative(process.cwd(), join(certsDir, clientFiles(LOCAL_ADMIN_CLIENT).awsCredentials)) || '.';
    console.log(`DynamoDB API: endpoint ${scheme}://127.0.0.1:${basePort} on every node; AWS_SHARED_CREDENTIALS_FILE=${aws} AWS_CA_BUNDLE=${relative(process.cwd(), join(certsDir, CA_CERT_FILE))} (see README "DynamoDB API")`);
  } else {
    console.log(`DynamoDB API: endpoint ${scheme}://127.0.0.1:${basePort} on every node, any credentials (--insecure)`);
  }
  const here = resolve(dataDir, 'certs') === resolve('data/certs') && basePort === 7001;
  // The CLI talks plain http only when told (--insecure), never by itself.
  if (options.insecure === true) console.log(`try: npx dynakv put hello world --insecure${basePort === 7001 ? '' : ` --node 127.0.0.1:${basePort}`}`);
  else console.log(here ? 'try: npx dynakv put hello world && npx dynakv get hello' : `try: npx dynakv put hello world --node 127.0.0.1:${basePort} --certs-dir ${relative(process.cwd(), certsDir) || '.'}`);
  console.log('Ctrl-C stops the cluster.');
}
