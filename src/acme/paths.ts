import * as path from 'path';

/**
 * HAProxy's map of HTTP-01 answers (token -> key authorization) in STATE_DIR: the rendered
 * config names it whenever ACME is on, so it always exists before HAProxy or `haproxy -c` reads it.
 */
export function challengeMapFile(stateDir: string): string {
  return path.resolve(stateDir, 'acme-challenges.map');
}
