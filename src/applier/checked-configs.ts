import { createHash } from 'crypto';

/** Look-ups of the cache before a `haproxy -c` since start. */
export interface CheckCacheCounts {
  readonly hits: number;
  readonly misses: number;
}

/**
 * Configs that `haproxy -c` accepted a moment ago. The API checks a candidate before it stores a
 * route, and the applier renders the very same text a few milliseconds later: checking it twice
 * would add a whole HAProxy start-up (tens of ms) to every change. Rendering is pure, so the same
 * text with the same HAProxy binary gets the same verdict.
 */
export class CheckedConfigs {
  private readonly digests: string[] = [];
  private hits = 0;
  private misses = 0;
  /** The last text digested and its digest: a miss is looked up, checked, then added (one digest, not two). */
  private last?: { readonly config: string; readonly digest: string };

  constructor(private readonly capacity = 16) {}

  private digest(config: string): string {
    if (this.last?.config === config) return this.last.digest;
    const digest = createHash('sha256').update(config).digest('hex');
    this.last = { config, digest };
    return digest;
  }

  add(config: string): void {
    const digest = this.digest(config);
    if (this.digests.includes(digest)) return;
    this.digests.push(digest);
    if (this.digests.length > this.capacity) this.digests.shift();
  }

  has(config: string): boolean {
    return this.digests.includes(this.digest(config));
  }

  /** has(), counted: whether a check was saved (hit) or must run (miss). */
  lookUp(config: string): boolean {
    const known = this.has(config);
    if (known) this.hits++;
    else this.misses++;
    return known;
  }

  counts(): CheckCacheCounts {
    return { hits: this.hits, misses: this.misses };
  }
}
