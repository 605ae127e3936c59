// A client's credentials read from a certs dir (as `dynakv certs create-client NAME` writes it):
// the cluster CA to check nodes with, and client.NAME.crt/.key, or client.NAME.token when no
// certificate is there or a token is asked for. Files are checked by src/security/certs.ts.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CA_CERT_FILE, clientFiles, loadClientCerts, pemFileBytesMax, readClientToken } from '../security/certs.ts';
import type { ClientCredentials } from './http-client.ts';

export interface CredentialsChoice {
  /** The client name whose files to use (client.NAME.*). */
  readonly user: string;
  /** A token given directly (flag or environment): sent instead of the files' credential. */
  readonly token?: string;
  /** Prefer client.NAME.token to the certificate even when both are there. */
  readonly preferToken?: boolean;
}

/** Credentials from `dir`; throws an Error naming the file and saying how to make it. */
export function credentialsFromCertsDir(dir: string, choice: CredentialsChoice): ClientCredentials {
  const root = resolve(dir);
  const caPath = join(root, CA_CERT_FILE);
  if (!existsSync(caPath)) throw new Error(`${caPath} is missing: the client needs the cluster's CA certificate to check the node`);
  // A token user may hold no certificate at all, only ca.crt.
  if (choice.token !== undefined) return { ca: loadCa(root), token: choice.token };
  const files = clientFiles(choice.user);
  const hasCert = existsSync(join(root, files.cert)) && existsSync(join(root, files.key));
  const hasToken = existsSync(join(root, files.token));
  if (hasCert && !(choice.preferToken === true && hasToken)) {
    const certs = loadClientCerts(root, choice.user);
    return { ca: certs.ca, cert: certs.cert, key: certs.key };
  }
  if (hasToken) return { ca: loadCa(root), token: readClientToken(root, choice.user) };
  throw new Error(`no credential for client ${choice.user} in ${root} (${files.cert} or ${files.token}); make one with: dynakv certs create-client ${choice.user} --certs-dir ${root} --ca-key CA_KEY`);
}

/** ca.crt, checked to be one readable CA certificate of a sane size. */
function loadCa(root: string): string {
  const path = join(root, CA_CERT_FILE);
  if (statSync(path).size > pemFileBytesMax) throw new Error(`${path} is larger than ${pemFileBytesMax} bytes: not a CA certificate`);
  const pem = readFileSync(path, 'utf8');
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(pem);
  } catch {
    throw new Error(`${path} is not a readable certificate`);
  }
  if (!ca.ca) throw new Error(`${path} is not a CA certificate`);
  return pem;
}
