import { InvalidParameter } from '../errors';
import type { Credential, Route, User } from './route';
import { checkPassword, checkUserName } from './values';

/**
 * Basic-auth users: the `users` parameter, `USERS`, and the `dfp_users_<name>` secret files, all
 * in DFP's `user:pass,user2:pass2` syntax (secret files may also put one user per line). A user
 * without a password takes it from the secret the route names (`usersSecret`), or else from
 * `USERS`, as DFP does.
 */

/** Where passwords the route does not carry come from: the settings (USERS, SECRETS_DIR). */
export interface UserSource {
  /** USERS (or the dfp_users secret): basic auth on every service without users of its own. */
  readonly global: readonly Credential[];
  /** The `dfp_users_<name>` files of SECRETS_DIR by `<name>`, read at start. */
  readonly secrets: ReadonlyMap<string, readonly User[]>;
}

export const NO_USERS: UserSource = { global: [], secrets: new Map() };

/** `alice:secret,bob` -> users; `name` is what an error names. Passwords never appear in errors. */
export function parseUserList(name: string, text: string, passwordRequired: boolean): User[] {
  return text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const colon = entry.indexOf(':');
      if (colon === 0) throw new InvalidParameter(name, 'a user has no name (user:password)');
      if (colon < 0) {
        if (passwordRequired) throw new InvalidParameter(name, `user ${checkUserName(name, entry)} has no password (user:password)`);
        return { name: checkUserName(name, entry) };
      }
      return { name: checkUserName(name, entry.slice(0, colon).trim()), password: checkPassword(name, entry.slice(colon + 1).trim()) };
    });
}

function findUser<T extends User>(users: readonly T[], name: string): T | undefined {
  return users.find((u) => u.name.toLowerCase() === name.toLowerCase());
}

/**
 * The users a route's own basic auth checks, every one with a password; [] when the route has
 * none (then `USERS` applies, unless ignoreAuthorization). Throws InvalidParameter naming
 * `usersSecret` (no such secret) or `users` (a user without a password found nowhere): DFP would
 * answer such a service with a random user nobody knows; a 400 says what is wrong instead.
 */
export function resolveUsers(route: Pick<Route, 'users' | 'usersSecret' | 'usersPassEncrypted'>, source: UserSource): Credential[] {
  const encrypted = route.usersPassEncrypted;
  let fromSecret: Credential[] | undefined;
  if (route.usersSecret !== undefined) {
    const users = source.secrets.get(route.usersSecret);
    if (users === undefined) throw new InvalidParameter('usersSecret', `there is no secret dfp_users_${route.usersSecret} in SECRETS_DIR`);
    fromSecret = users.filter(hasPassword).map((u) => ({ name: u.name, password: u.password, encrypted }));
  }
  if (route.users.length === 0) return fromSecret ?? [];
  const lookup = fromSecret ?? source.global;
  return route.users.map((user): Credential => {
    if (user.password !== undefined) return { name: user.name, password: user.password, encrypted };
    const found = findUser(lookup, user.name);
    if (found) return found;
    const where = fromSecret ? `the secret dfp_users_${route.usersSecret}` : 'USERS';
    throw new InvalidParameter('users', `user ${user.name} has no password and is not in ${where}`);
  });
}

function hasPassword(user: User): user is User & { readonly password: string } {
  return user.password !== undefined;
}
