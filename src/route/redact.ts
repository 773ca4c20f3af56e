import type { RouteParams } from './route';
import { emptyRecord } from './record';

/** What stands in for a password wherever a route leaves the process (replies, logs, CLI). */
export const HIDDEN = '***';

/** `alice:secret,bob:other,carol` -> `alice:***,bob:***,carol` (carol's password comes from USERS). */
export function hideUserPasswords(users: string): string {
  return users
    .split(',')
    .map((entry) => (entry.includes(':') ? `${entry.split(':')[0].trim()}:${HIDDEN}` : entry.trim()))
    .join(',');
}

/** The parameters as a client may see them again: every `users` password hidden. */
export function redactParams(params: RouteParams): RouteParams {
  const shown = emptyRecord<string>();
  for (const [name, value] of Object.entries(params)) shown[name] = name === 'users' ? hideUserPasswords(value) : value;
  return shown;
}
