// `dynakv certs create-ca | create-node | create-client | create-access-key`: write a cluster's CA,
// node and client certificates (and the cluster secret, client tokens and DynamoDB access keys)
// as files, by src/security/certs.ts.
// Prints each file written; refuses to overwrite anything.
import { join } from 'node:path';
import { CA_KEY_FILE, createAccessKeyFile, createCa, createClientCert, createNodeCert } from '../security/certs.ts';
import { isClientRole } from '../security/tokens.ts';

interface Out {
  log(line: string): void;
}

export async function runCertsCreateCa(options: { certsDir: string; caKey?: string }, out: Out): Promise<void> {
  const caKey = options.caKey ?? join(options.certsDir, CA_KEY_FILE);
  const { written } = await createCa({ certsDir: options.certsDir, caKey });
  for (const path of written) out.log(`wrote ${path}`);
  out.log(`keep ${caKey} and the cluster.secret beside it private: they make members and credentials of this cluster`);
  out.log(`next: dynakv certs create-node <id> --certs-dir <dir> --ca-key ${caKey}`);
}

export async function runCertsCreateNode(id: string, options: { certsDir: string; caKey: string; host?: string }, out: Out): Promise<void> {
  const hosts = (options.host ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  const { written } = await createNodeCert({ id, certsDir: options.certsDir, caKey: options.caKey, hosts });
  for (const path of written) out.log(`wrote ${path}`);
  out.log(`start the node with: dynakv node start --id ${id} --certs-dir ${options.certsDir} ...`);
}

export async function runCertsCreateClient(name: string, options: { certsDir: string; caKey: string; role: string }, out: Out): Promise<void> {
  if (!isClientRole(options.role)) throw new Error(`--role must be admin or user, got ${options.role}`);
  const { written } = await createClientCert({ name, role: options.role, certsDir: options.certsDir, caKey: options.caKey });
  for (const path of written) out.log(`wrote ${path}`);
}

export async function runCertsCreateAccessKey(name: string, options: { certsDir: string; caKey: string; role: string }, out: Out): Promise<void> {
  if (!isClientRole(options.role)) throw new Error(`--role must be admin or user, got ${options.role}`);
  const { written } = await createAccessKeyFile({ name, role: options.role, certsDir: options.certsDir, caKey: options.caKey });
  for (const path of written) out.log(`wrote ${path}`);
  out.log(`a DynamoDB access key (${options.role}); use it with AWS_SHARED_CREDENTIALS_FILE=${written[0]} and the node's URL as the endpoint`);
}
