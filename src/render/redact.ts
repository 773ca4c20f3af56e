import { HIDDEN } from '../route/redact';

/**
 * A rendered haproxy.cfg as the API shows it: the passwords of `userlist` users and of the stats
 * page hidden. The file on disk keeps them (HAProxy needs them); a reply never carries them.
 */
export function redactConfig(config: string): string {
  return config
    .replace(/^(\s*user\s+\S+\s+(?:insecure-password|password)\s+)\S+/gm, `$1${HIDDEN}`)
    .replace(/^(\s*stats\s+auth\s+'?[^:'\s]+:)[^'\s]+/gm, `$1${HIDDEN}`);
}
