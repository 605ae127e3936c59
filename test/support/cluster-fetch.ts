// Test helper: a fetch() for a test cluster's HTTP door. Secure clusters serve HTTPS with
// certificates from their own CA and want a client credential, which global fetch cannot take;
// undici's fetch (a dev dependency) with an Agent holding the CA and the admin client's
// certificate can. Insecure clusters get global fetch unchanged.
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { loadClientCerts } from '../../src/security/certs.ts';
import type { ClientCredentials } from '../../src/client/http-client.ts';

/** What tests call: the WHATWG fetch signature. */
export type TestFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** The admin client's credentials in a cluster's certs dir (client.admin.crt/.key, ca.crt). */
export function adminCredentials(certsDir: string): ClientCredentials {
  const certs = loadClientCerts(certsDir, 'admin');
  return { ca: certs.ca, cert: certs.cert, key: certs.key };
}

/** fetch() that trusts the CA and presents the client certificate of `credentials`. */
export function fetchWith(credentials: ClientCredentials | undefined): TestFetch {
  if (credentials === undefined) return (url, init) => fetch(url, init);
  const dispatcher = new Agent({ connect: { ca: credentials.ca, cert: credentials.cert, key: credentials.key } });
  const headers = (init?: RequestInit) => {
    const h = new Headers(init?.headers);
    if (credentials.token !== undefined) h.set('authorization', `Bearer ${credentials.token}`);
    return h;
  };
  return (url, init) => undiciFetch(url, { ...(init as object), headers: headers(init), dispatcher } as never) as unknown as Promise<Response>;
}

/** fetchWith the admin credentials of a certs dir, or global fetch when there is none (insecure). */
export function clusterFetch(certsDir: string | undefined): TestFetch {
  return fetchWith(certsDir === undefined ? undefined : adminCredentials(join(certsDir)));
}
