// Client-driven coordination (Dynamo section 6.4): learns the members from a node's
// /cluster/members, builds the same ring the nodes build (src/ring/ring.ts), and tells which of
// the client's endpoints hold a key, in preference-list order. A client that sends each request
// to one of them saves the hop a node outside the preference list pays to forward a write, and
// a read is answered from the coordinator's own replica plus one peer.
import { Ring } from '../ring/ring.ts';
import { DynakvClient, type ClientCredentials } from './http-client.ts';

const REPLICAS = 3;

export class RingRouter {
  private constructor(
    private readonly ring: Ring,
    /** Node id -> the client's endpoint (base URL) for it, where the client has one. */
    private readonly endpointOf: ReadonlyMap<string, string>,
  ) {}

  /** Asks the endpoints in turn for the membership table; throws if none answers. */
  static async fetch(endpoints: readonly string[], timeoutMs = 5_000, credentials?: ClientCredentials): Promise<RingRouter> {
    const problems: string[] = [];
    for (const base of endpoints) {
      const client = new DynakvClient(base, { timeoutMs, ...(credentials !== undefined ? { credentials } : {}) });
      try {
        const body = await client.members();
        if (!Array.isArray(body.members)) throw new Error('no "members" list');
        const inRing = body.members.filter((m) => m.status !== 'removed');
        const endpointOf = new Map<string, string>();
        for (const m of inRing) {
          // Members publish HOST:PORT; the client may reach them by http:// or https://.
          const url = endpoints.find((e) => new URL(e).host === m.http);
          if (url !== undefined) endpointOf.set(m.id, url);
        }
        return new RingRouter(Ring.of(inRing.map((m) => m.id)), endpointOf);
      } catch (err) {
        problems.push(`${base}: ${(err as Error).message}`);
      } finally {
        client.close();
      }
    }
    throw new Error(`no dynakv node answered /cluster/members (${problems.join('; ')})`);
  }

  /** The endpoints of the key's preference list that the client knows, nearest first. */
  replicas(key: string): string[] {
    const out: string[] = [];
    for (const id of this.ring.preferenceList(key, REPLICAS)) {
      const url = this.endpointOf.get(id);
      if (url !== undefined) out.push(url);
    }
    return out;
  }
}
