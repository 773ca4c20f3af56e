import * as fs from 'fs';
import { readIfExists, writeAtomic } from '../files/atomic-write';
import { MapFile, mapText, parseMapText, routeMapFiles } from '../render/route-maps';

/**
 * The route map files in STATE_DIR (render/route-maps.ts), kept in step with the config: they are
 * written with it, before any reload, so a reload or a restart from the last-known-good config at
 * any moment reads the maps of the config it reads. It remembers what the worker serves.
 */
export class RouteMapFiles {
  private served: readonly MapFile[] = [];
  private readonly files: readonly string[];

  constructor(stateDir: string) {
    const files = routeMapFiles(stateDir);
    this.files = [files.exact, files.prefix, files.wildcards];
  }

  /** What the worker serves ([] when its config names no route map). */
  get live(): readonly MapFile[] {
    return this.served;
  }

  /**
   * Before HAProxy starts from `config`: every map file exists (`haproxy -c` of any candidate
   * refuses a missing one), and what they hold is what the worker serves when `config` names them.
   */
  async prepare(config: string): Promise<void> {
    const served: MapFile[] = [];
    for (const file of this.files) {
      let text = await readIfExists(file);
      if (text === undefined) {
        text = '';
        await writeAtomic(file, text);
      }
      served.push({ file, entries: parseMapText(text) });
    }
    this.served = config.includes(this.files[1]) ? served : [];
  }

  /** Write `maps` (only the files whose text changed). */
  async write(maps: readonly MapFile[]): Promise<void> {
    for (const map of maps) {
      const text = mapText(map.entries);
      if ((await readIfExists(map.file)) !== text) await writeAtomic(map.file, text);
    }
  }

  /** HAProxy was (re)loaded from a config that names `maps` (already on disk). */
  loaded(maps: readonly MapFile[]): void {
    this.served = maps;
  }

  /** The files hold what the worker serves again (after a failed reload, before the rollback reload). */
  async restore(): Promise<void> {
    await this.write(this.served);
  }

  /** Remove the files (a test's clean-up). */
  async remove(): Promise<void> {
    for (const file of this.files) await fs.promises.rm(file, { force: true });
  }
}
