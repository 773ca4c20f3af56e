import type { RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import type { CertPaths } from './cert-files';
import { CertFiles, runtimeCertChanges } from './cert-plan';

/**
 * Keeps the HAProxy worker's certificates in step with the files, through the Runtime API: the
 * applier's tool for certificate changes that need no reload. It remembers what the worker
 * serves; after a reload the applier tells it (loaded), since the worker then serves the files.
 */
export class CertSync {
  private live: CertFiles = new Map();

  constructor(
    private readonly paths: CertPaths,
    private readonly runtime: RuntimeApi,
    private readonly logger: Logger,
  ) {}

  /** HAProxy was (re)loaded from the files, which hold `files`. */
  loaded(files: CertFiles): void {
    this.live = files;
  }

  /**
   * Bring the worker to `files` (already on disk) without a reload: `none` when it serves them
   * already, `applied` when it does now, `reload` when that takes a reload: the `:ssl` binds
   * appear or go, or a runtime command failed half-way, after which only a reload from the
   * files says what is served.
   */
  async apply(files: CertFiles): Promise<'none' | 'applied' | 'reload'> {
    const changes = runtimeCertChanges(this.live, files);
    if (changes === undefined) return 'reload';
    if (changes.length === 0) return 'none';
    try {
      for (const change of changes) {
        if (change.kind === 'remove') await this.runtime.removeCertificate(this.paths.crtList, change.file);
        else if (change.kind === 'add') await this.runtime.addCertificate(this.paths.crtList, change.file, change.pem);
        else await this.runtime.updateCertificate(change.file, change.pem);
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'certificate change through the Runtime API failed; reloading instead');
      return 'reload';
    }
    this.logger.info({ certificates: changes.map((change) => `${change.kind} ${change.file}`) }, 'certificates changed through the Runtime API');
    this.live = files;
    return 'applied';
  }
}
