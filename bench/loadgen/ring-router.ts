// Ring routing for the load generator: src/client/ring-router.ts says which endpoints hold a
// key; this picks one of them per request (rotating, so a hot key's load is spread over its
// replicas) and avoids for a while an endpoint that just failed at the transport level.
import { RingRouter } from '../../src/client/ring-router.ts';
import type { ClientTls } from './protocol.ts';

/** How long an endpoint that failed at the transport level is avoided. */
export const AVOID_MS = 1_000;

export class EndpointRouter {
  private readonly avoidUntil: number[];
  private readonly indexOf: ReadonlyMap<string, number>;

  private constructor(
    private readonly router: RingRouter,
    endpoints: readonly string[],
  ) {
    this.avoidUntil = new Array<number>(endpoints.length).fill(0);
    this.indexOf = new Map(endpoints.map((url, i) => [url, i]));
  }

  static async fetch(endpoints: readonly string[], tls?: ClientTls): Promise<EndpointRouter> {
    return new EndpointRouter(await RingRouter.fetch(endpoints, undefined, tls), endpoints);
  }

  /**
   * The endpoint index for `key`: its `turn mod replicas`-th replica, or the next one not
   * avoided; `fallback` when none may be used now.
   */
  endpointFor(key: string, turn: number, nowMs: number, fallback: number): number {
    const replicas = this.router.replicas(key);
    for (let i = 0; i < replicas.length; i++) {
      const index = this.indexOf.get(replicas[(turn + i) % replicas.length]!);
      if (index !== undefined && this.avoidUntil[index]! <= nowMs) return index;
    }
    return fallback;
  }

  /** The endpoint failed a request at the transport level (refused, reset, timed out). */
  avoid(index: number, nowMs: number): void {
    this.avoidUntil[index] = nowMs + AVOID_MS;
  }
}
