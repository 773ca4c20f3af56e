import * as fs from 'fs';
import * as os from 'os';
import { InvalidSetting } from '../errors';
import { RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import type { AcmeSettings, HostPort } from '../settings';
import type { RouteStore } from '../store/route-store';
import { AcmeCa } from './acme-ca';
import { AcmeManager } from './acme-manager';
import { ChallengeMap } from './challenge-map';
import { challengeMapFile } from './paths';

export { AcmeManager } from './acme-manager';
export type { AcmeStatus, AcmeCertStatus } from './acme-manager';
export { ChallengeMap } from './challenge-map';
export { challengeMapFile } from './paths';

/** The map of HTTP-01 answers the applier keeps in step with the store. */
export function createChallengeMap(stateDir: string, masterSocket: string, logger: Logger): ChallengeMap {
  return new ChallengeMap(challengeMapFile(stateDir), new RuntimeApi(masterSocket), logger);
}

export interface AcmeWiring {
  readonly settings: AcmeSettings;
  readonly store: RouteStore;
  readonly listen: HostPort;
  readonly awaitServed: (index: number) => Promise<void>;
  readonly logger: Logger;
}

/** The fleet's ACME manager of this replica; ACME_CA_FILE is read here, once, and must be readable. */
export function createAcmeManager(wiring: AcmeWiring): AcmeManager {
  const { settings } = wiring;
  let caPem: string | undefined;
  if (settings.caFile !== undefined) {
    try {
      caPem = fs.readFileSync(settings.caFile, 'utf8');
    } catch (error) {
      throw new InvalidSetting('ACME_CA_FILE', `cannot read ${settings.caFile}: ${(error as Error).message}`);
    }
  }
  return new AcmeManager({
    settings,
    store: wiring.store,
    ca: new AcmeCa({ directoryUrl: settings.directoryUrl, email: settings.email, caPem }),
    newAccountKey: () => AcmeCa.newAccountKey(),
    awaitServed: wiring.awaitServed,
    holder: `haproxy-sidecar on ${os.hostname()} pid ${process.pid} api ${wiring.listen.host}:${wiring.listen.port}`,
    logger: wiring.logger,
  });
}
