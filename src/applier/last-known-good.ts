import * as path from 'path';
import { readIfExists, writeAtomic } from '../files/atomic-write';

/**
 * `<stateDir>/last-known-good.cfg`: the last config HAProxy confirmed serving. HAProxy starts from
 * it (a store outage at start still serves yesterday's routes), a failed reload rolls back to it,
 * and a master that died is started again from it.
 */
export class LastKnownGood {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'last-known-good.cfg');
  }

  read(): Promise<string | undefined> {
    return readIfExists(this.file);
  }

  save(config: string): Promise<void> {
    return writeAtomic(this.file, config);
  }
}
