import { readIfExists, writeAtomic } from '../files/atomic-write';
import type { RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import type { ChallengeEntry } from '../store/route-store';

/**
 * The HTTP-01 answers HAProxy serves, kept in step with the store's challenges the way CertSync
 * keeps certificates: the map file is written first (a reload at any moment serves what the store
 * holds), then the running worker is changed through the Runtime API (`del map` / `add map`), so
 * a new challenge is answered on every replica without a reload. It remembers what the worker
 * serves; after a reload the applier tells it (loaded), since the worker then serves the file.
 */

/** token -> key authorization. */
type Answers = ReadonlyMap<string, string>;

function answersOf(challenges: readonly ChallengeEntry[]): Answers {
  return new Map(challenges.map((c) => [c.token, c.keyAuthorization]));
}

function mapText(answers: Answers): string {
  return [...answers].map(([token, keyAuthorization]) => `${token} ${keyAuthorization}\n`).join('');
}

function parseMapText(text: string): Answers {
  const answers = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [token, keyAuthorization] = line.trim().split(/\s+/);
    if (token && keyAuthorization) answers.set(token, keyAuthorization);
  }
  return answers;
}

export class ChallengeMap {
  private live: Answers = new Map();

  constructor(
    readonly file: string,
    private readonly runtime: RuntimeApi,
    private readonly logger: Logger,
  ) {}

  /** Before HAProxy starts: the file exists, and what it holds is what the worker will serve. */
  async prepare(): Promise<void> {
    const text = await readIfExists(this.file);
    if (text === undefined) await writeAtomic(this.file, '');
    this.live = parseMapText(text ?? '');
  }

  /** Write the map file of `challenges` (when it changed). */
  async write(challenges: readonly ChallengeEntry[]): Promise<void> {
    const text = mapText(answersOf(challenges));
    if ((await readIfExists(this.file)) !== text) await writeAtomic(this.file, text);
  }

  /** HAProxy was (re)loaded from the file, which holds `challenges`. */
  loaded(challenges: readonly ChallengeEntry[]): void {
    this.live = answersOf(challenges);
  }

  /**
   * Bring the worker to `challenges` without a reload: `none` when it serves them already,
   * `applied` when it does now, `reload` when a runtime command failed (only a reload from the
   * file then says what is served).
   */
  async apply(challenges: readonly ChallengeEntry[]): Promise<'none' | 'applied' | 'reload'> {
    const next = answersOf(challenges);
    const gone = [...this.live.keys()].filter((token) => next.get(token) !== this.live.get(token));
    const added = [...next].filter(([token, value]) => this.live.get(token) !== value);
    if (gone.length === 0 && added.length === 0) return 'none';
    try {
      for (const token of gone) await this.runtime.deleteMapEntry(this.file, token);
      for (const [token, value] of added) await this.runtime.addMapEntry(this.file, token, value);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'ACME challenge change through the Runtime API failed; reloading instead');
      return 'reload';
    }
    this.logger.info({ added: added.length, removed: gone.length }, 'ACME challenges changed through the Runtime API');
    this.live = next;
    return 'applied';
  }
}
