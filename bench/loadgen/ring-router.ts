// Client-driven coordination for the dynakv load generator (Dynamo section 6.4): learns the
// members from a node's /cluster/members, builds the same ring the nodes use, and sends each
// request to a node of its key's preference list, so no write pays a forwarding hop and a read
// is answered from the coordinator's own replica plus one peer. A node that just failed a
// request is avoided for a while; when every replica is avoided, any endpoint is used.
import { Ring } from '../../src/ring/ring.ts';

/** How long an endpoint that failed at the transport level is avoided. */
export const AVOID_MS = 1_000;
const REPLICAS = 3;

interface MemberEntry {
  readonly id: string;
  readonly http: string;
  readonly status: string;
}

export class RingRouter {
  private readonly avoidUntil: number[];

  private constructor(
    private readonly ring: Ring,
    /** Node id -> index into the generator's endpoint list. */
    private readonly endpointOf: ReadonlyMap<string, number>,
    endpoints: number,
  ) {
    this.avoidUntil = new Array<number>(endpoints).fill(0);
  }

  /** Asks the endpoints in turn for the membership table; throws if none answers. */
  static async fetch(endpoints: readonly string[]): Promise<RingRouter> {
    const problems: string[] = [];
    for (const base of endpoints) {
      try {
        const res = await fetch(`${base}/cluster/members`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const body = (await res.json()) as { members: MemberEntry[] };
        const inRing = body.members.filter((m) => m.status !== 'removed');
        const endpointOf = new Map<string, number>();
        for (const m of inRing) {
          const index = endpoints.indexOf(`http://${m.http}`);
          if (index >= 0) endpointOf.set(m.id, index);
        }
        return new RingRouter(Ring.of(inRing.map((m) => m.id)), endpointOf, endpoints.length);
      } catch (err) {
        problems.push(`${base}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no dynakv node answered /cluster/members (${problems.join('; ')})`);
  }

  /**
   * The endpoint for `key`: its preference list's `turn mod 3`-th node, or the next one that is
   * not avoided; `fallback` when no replica maps to an endpoint that may be used now.
   */
  endpointFor(key: string, turn: number, nowMs: number, fallback: number): number {
    const replicas = this.ring.preferenceList(key, REPLICAS);
    for (let i = 0; i < replicas.length; i++) {
      const index = this.endpointOf.get(replicas[(turn + i) % replicas.length]!);
      if (index !== undefined && this.avoidUntil[index]! <= nowMs) return index;
    }
    return fallback;
  }

  /** The endpoint failed a request at the transport level (refused, reset, timed out). */
  avoid(index: number, nowMs: number): void {
    this.avoidUntil[index] = nowMs + AVOID_MS;
  }
}
