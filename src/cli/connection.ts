// Which node the CLI talks to and with what credential, from flags and environment variables
// (flags win): --node (DYNAKV_NODE), --certs-dir (DYNAKV_CERTS_DIR; default ./data/certs when it
// holds a ca.crt, which `npm start` writes), --user (DYNAKV_USER, default admin: the files
// client.USER.crt/.key, else client.USER.token), --token (DYNAKV_TOKEN) and --insecure
// (DYNAKV_INSECURE: plain http, no credential). Secure by default: the node is reached over https
// and checked against the cluster's CA. Plain http only ever with --insecure or DYNAKV_INSECURE,
// never by itself (finding 5 of the attack review of issue 13): an http:// URL alone is refused,
// because a scheme is easily carried over from an old script, document or DYNAKV_NODE, while
// --insecure is one deliberate word, the same the node itself takes.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import { credentialsFromCertsDir } from '../client/credentials.ts';
import type { ClientCredentials } from '../client/http-client.ts';

/** Where `npm start` (dynakv cluster start) writes the CA and the admin credential. */
export const DEFAULT_CERTS_DIR = './data/certs';
export const DEFAULT_USER = 'admin';
const DEFAULT_ADDRESS = '127.0.0.1:7001';

export interface ConnectionFlags {
  readonly node?: string;
  readonly certsDir?: string;
  readonly user?: string;
  readonly token?: string;
  readonly insecure?: boolean;
}

export interface Connection {
  readonly url: string;
  readonly credentials?: ClientCredentials;
  /** Plain http, as asked with --insecure or DYNAKV_INSECURE: the caller warns on stderr. */
  readonly insecure?: true;
}

/** The stderr warning for an --insecure connection. */
export function insecureWarning(url: string): string {
  return `warning: plain http to ${url} (--insecure): nothing is encrypted and the node is not authenticated`;
}

/** The flags every command that talks to a node takes (help text names the variables). */
export function connectionOptions(): Option[] {
  return [
    new Option('--node <url>', `node to talk to: URL or HOST:PORT (env DYNAKV_NODE; default https://${DEFAULT_ADDRESS}, http:// with --insecure)`),
    new Option('--certs-dir <dir>', `directory with the cluster's ca.crt and client credentials (env DYNAKV_CERTS_DIR; default ${DEFAULT_CERTS_DIR} if it exists)`),
    new Option('--user <name>', `client whose credential to use: client.NAME.crt/.key or client.NAME.token in the certs dir (env DYNAKV_USER; default ${DEFAULT_USER})`),
    new Option('--token <token>', 'bearer token to send instead of a client certificate (env DYNAKV_TOKEN)'),
    new Option('--insecure', 'talk plain http to a node started with --insecure, with no credential (env DYNAKV_INSECURE=1); the only way to plain http'),
  ];
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Resolves the node URL and credential; throws an Error with the fix when they cannot work. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Connection {
  const insecure = flags.insecure === true || truthy(env.DYNAKV_INSECURE);
  const explicitDir = nonEmpty(flags.certsDir) ?? nonEmpty(env.DYNAKV_CERTS_DIR);
  const defaultDir = resolve(cwd, DEFAULT_CERTS_DIR);
  const certsDir = explicitDir !== undefined ? resolve(cwd, explicitDir) : existsSync(join(defaultDir, 'ca.crt')) ? defaultDir : undefined;
  const given = nonEmpty(flags.node) ?? nonEmpty(env.DYNAKV_NODE);
  const scheme = insecure ? 'http' : 'https';
  const url = given === undefined ? `${scheme}://${DEFAULT_ADDRESS}` : /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `${scheme}://${given}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--node must be a URL or HOST:PORT, got ${given}`);
  }
  if (parsed.protocol === 'http:') {
    if (!insecure) throw new Error(`${url} is plain http: nothing would be encrypted and the node not authenticated. If that node runs --insecure, say so with --insecure (or DYNAKV_INSECURE=1); otherwise use https:// with --certs-dir DIR`);
    return { url, insecure: true };
  }
  if (parsed.protocol !== 'https:') throw new Error(`--node must be http:// or https://, got ${url}`);
  if (insecure) throw new Error(`--insecure talks plain http, but --node is ${url}`);
  const user = nonEmpty(flags.user) ?? nonEmpty(env.DYNAKV_USER) ?? DEFAULT_USER;
  if (certsDir === undefined) {
    throw new Error(
      `no credentials to reach ${url}: pass --certs-dir DIR (or DYNAKV_CERTS_DIR), the directory with the cluster's ca.crt and client.${user}.* (npm start writes ${DEFAULT_CERTS_DIR}; dynakv certs create-client makes them), or run from the directory holding ${DEFAULT_CERTS_DIR}; for a node started --insecure, pass --insecure (or DYNAKV_INSECURE=1)`,
    );
  }
  const token = nonEmpty(flags.token) ?? nonEmpty(env.DYNAKV_TOKEN);
  return { url, credentials: credentialsFromCertsDir(certsDir, { user, ...(token !== undefined ? { token } : {}) }) };
}
