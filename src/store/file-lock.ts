import * as fs from 'fs';
import * as path from 'path';
import { setTimeout as sleep } from 'timers/promises';
import { StoreUnavailable } from '../errors';
import { Backoff } from '../files/backoff';
import { processAlive } from '../files/process-alive';

/**
 * A lock between processes on one machine: a file created with O_EXCL that holds the owner's pid.
 * The file store needs it because `routes add` (one process) and `serve` (another) both
 * read-modify-write routes.json; without it one of two simultaneous writes would be lost.
 * A lock whose owner is gone (crashed) or that is older than staleMs is taken over.
 */
export class FileLock {
  constructor(
    readonly file: string,
    private readonly timeoutMs = 10000,
    private readonly staleMs = 30000,
  ) {}

  async hold<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      await fs.promises.rm(this.file, { force: true });
    }
  }

  /** Take the lock now if it is free (or its owner is gone or it is stale); false when a live owner holds it. */
  async tryAcquire(): Promise<boolean> {
    if (await this.tryCreate()) return true;
    return (await this.breakIfStale()) && this.tryCreate();
  }

  async release(): Promise<void> {
    await fs.promises.rm(this.file, { force: true });
  }

  private async acquire(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    const backoff = new Backoff({ minMs: 10, maxMs: 100 });
    for (;;) {
      if (await this.tryCreate()) return;
      if (await this.breakIfStale()) continue;
      if (Date.now() > deadline)
        throw new StoreUnavailable(`${this.file} is held by another process (pid ${await this.owner()}) for more than ${this.timeoutMs} ms`);
      await sleep(backoff.next());
    }
  }

  private async tryCreate(): Promise<boolean> {
    try {
      // The first `routes add` on a fresh machine comes before any STATE_DIR exists.
      await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
      await fs.promises.writeFile(this.file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  private async owner(): Promise<number> {
    try {
      return Number(await fs.promises.readFile(this.file, 'utf8'));
    } catch {
      return 0;
    }
  }

  private async breakIfStale(): Promise<boolean> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(this.file);
    } catch {
      return true;
    }
    const pid = await this.owner();
    // A lock file just created may still be empty (pid 0): give its writer time to finish.
    const ownerGone = pid > 0 && pid !== process.pid && !processAlive(pid);
    if (!ownerGone && Date.now() - stat.mtimeMs < this.staleMs) return false;
    await fs.promises.rm(this.file, { force: true });
    return true;
  }
}
