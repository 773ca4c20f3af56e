import * as fs from 'fs';
import * as path from 'path';
import { InvalidSetting } from './errors';
import { SidecarError } from './errors';
import type { User } from './route/route';
import { parseUserList } from './route/users';

/**
 * DFP's Docker secrets for basic auth, read once at start (a service's secrets are fixed for
 * the life of its containers): `dfp_users` replaces USERS, `dfp_users_<name>` holds the users of
 * routes with `usersSecret=<name>`. A missing folder is no secret at all.
 */
export interface UserSecrets {
  readonly global?: readonly User[];
  readonly byName: ReadonlyMap<string, readonly User[]>;
}

const GLOBAL_FILE = 'dfp_users';
const PREFIX = 'dfp_users_';

function names(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw new InvalidSetting('SECRETS_DIR', `cannot read ${dir}: ${(error as Error).message}`);
  }
}

/** A malformed file stops the start naming the file; its content never appears in the message. */
function readUsers(dir: string, file: string): User[] {
  const full = path.join(dir, file);
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch (error) {
    throw new InvalidSetting('SECRETS_DIR', `cannot read ${full}: ${(error as Error).message}`);
  }
  try {
    return parseUserList(file, text, true);
  } catch (error) {
    throw new InvalidSetting('SECRETS_DIR', `${full}: ${error instanceof SidecarError ? error.message : 'is not user:password lines'}`);
  }
}

export function readUserSecrets(dir: string): UserSecrets {
  const files = names(dir);
  const byName = new Map<string, readonly User[]>();
  for (const file of files) {
    if (file.startsWith(PREFIX) && file.length > PREFIX.length) byName.set(file.slice(PREFIX.length), readUsers(dir, file));
  }
  return { global: files.includes(GLOBAL_FILE) ? readUsers(dir, GLOBAL_FILE) : undefined, byName };
}
