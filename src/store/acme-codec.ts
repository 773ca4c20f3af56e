import { InvalidParameter } from '../errors';
import type { ChallengeEntry } from './route-store';

/**
 * How ACME state is kept in a store, for both stores: a challenge is stored under its token as
 * JSON `{certName, keyAuthorization}`. The token becomes a key of HAProxy's challenge map and the
 * key authorization its value, one line each in the map file: a hand edit with other characters
 * (a space or a newline would split the line) is left out, as an invalid route is.
 */

/** RFC 8555: tokens are base64url; a key authorization is `<token>.<base64url thumbprint>`. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const KEY_AUTHORIZATION = /^[A-Za-z0-9_-]{1,256}\.[A-Za-z0-9_-]{1,256}$/;

export function checkToken(token: string): string {
  if (!TOKEN.test(token)) throw new InvalidParameter('token', 'is not an ACME token (base64url)');
  return token;
}

export function encodeChallenge(challenge: ChallengeEntry): string {
  checkToken(challenge.token);
  if (!KEY_AUTHORIZATION.test(challenge.keyAuthorization)) throw new InvalidParameter('keyAuthorization', 'is not an ACME key authorization');
  return JSON.stringify({ certName: challenge.certName, keyAuthorization: challenge.keyAuthorization });
}

/** The challenge stored under `token`, or undefined when the key or value is not one. */
export function decodeChallenge(token: string, value: unknown): ChallengeEntry | undefined {
  if (!TOKEN.test(token)) return undefined;
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { certName, keyAuthorization } = parsed as { certName?: unknown; keyAuthorization?: unknown };
  if (typeof keyAuthorization !== 'string' || !KEY_AUTHORIZATION.test(keyAuthorization)) return undefined;
  return { token, keyAuthorization, certName: typeof certName === 'string' ? certName : '' };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function sortChallenges(challenges: ChallengeEntry[]): ChallengeEntry[] {
  return challenges.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
}
