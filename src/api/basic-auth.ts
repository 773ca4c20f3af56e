import { timingSafeEqual, createHash } from 'crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Credentials } from '../settings';

function sameSecret(a: string, b: string): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function presented(header: string | undefined): Credentials | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

/** HTTP basic auth for the /v1/ API (API_USER, API_PASS). */
export function basicAuth(expected: Credentials) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = presented(req.headers.authorization);
    const userOk = given !== undefined && sameSecret(given.user, expected.user);
    const passOk = given !== undefined && sameSecret(given.pass, expected.pass);
    if (userOk && passOk) return next();
    res.set('WWW-Authenticate', 'Basic realm="haproxy-sidecar"');
    res.status(401).json({ status: 'NOK', message: 'authentication required (API_USER/API_PASS)' });
  };
}
