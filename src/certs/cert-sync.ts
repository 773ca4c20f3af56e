import type { RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import type { CertPaths } from './cert-files';
import { runtimeCertChanges } from './cert-plan';
import type { Certificate } from './certificate';

/**
 * Keeps the HAProxy worker's certificates in step with the files, through the Runtime API: the
 * applier's tool for certificate changes that need no reload. It remembers what the worker
 * serves; after a reload the applier tells it (loaded), since the worker then serves the files.
 */
export class CertSync {
  private live: readonly Certificate[] = [];

  constructor(
    private readonly paths: CertPaths,
    private readonly runtime: RuntimeApi,
    private readonly logger: Logger,
  ) {}

  /** What the worker serves, in serving order (the first is the default). */
  served(): readonly Certificate[] {
    return this.live;
  }

  /** HAProxy was (re)loaded from the files, which hold `ordered`. */
  loaded(ordered: readonly Certificate[]): void {
    this.live = ordered;
  }

  /**
   * Bring the worker to `ordered` (already on disk) without a reload. False when that takes a
   * reload: the change needs one (a new default, the first or last certificate) or a runtime
   * command failed half-way, after which only a reload from the files says what is served.
   */
  async apply(ordered: readonly Certificate[]): Promise<boolean> {
    const changes = runtimeCertChanges(this.live, ordered);
    if (changes === undefined) return false;
    try {
      for (const change of changes) {
        if (change.kind === 'remove') await this.runtime.removeCertificate(this.paths.crtList, this.paths.file(change.name));
        else if (change.kind === 'add') await this.runtime.addCertificate(this.paths.crtList, this.paths.file(change.cert.name), change.cert.pem);
        else await this.runtime.updateCertificate(this.paths.file(change.cert.name), change.cert.pem);
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'certificate change through the Runtime API failed; reloading instead');
      return false;
    }
    if (changes.length > 0) {
      const summary = changes.map((change) => `${change.kind} ${change.kind === 'remove' ? change.name : change.cert.name}`);
      this.logger.info({ certificates: summary }, 'certificates changed through the Runtime API');
    }
    this.live = ordered;
    return true;
  }
}
