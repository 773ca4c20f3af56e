import { InvalidParameter } from '../errors';
import { checkServiceName } from '../route/values';
import { emptyRecord } from '../route/record';
import type { RouteParams } from '../route/route';
import type { StoreEntry } from './route-store';

/**
 * How a route is kept in a store: one JSON object of strings per route, under its serviceName.
 * Both stores decode through here, and this only decodes JSON: whether the parameters make a
 * route is judged by route/ (route/entries.ts), for hand edits and API calls alike.
 */

/** The serviceName a route is stored under (route/'s rule); anything else could escape its key or file entry. */
export function storeName(serviceName: string | undefined): string {
  if (serviceName === undefined) throw new InvalidParameter('serviceName', 'is required');
  return checkServiceName('serviceName', serviceName);
}

export function encodeRoute(params: RouteParams): string {
  return JSON.stringify(params);
}

/** The parameters of `value`, or why it is not a route: a JSON object whose values are all strings. */
function paramsOf(value: unknown): RouteParams | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the value is not a JSON object';
  // Null prototype: a stored parameter may be called `__proto__`.
  const params = emptyRecord<string>();
  for (const [name, item] of Object.entries(value)) {
    if (typeof item !== 'string') return `parameter "${name}" is not a string`;
    params[name] = item;
  }
  return params;
}

/**
 * Decode the stored value of the route `serviceName`. A value without serviceName gets it from
 * the key (a convenience for hand edits); a value naming another service is refused, because the
 * key is what makes one route replace another.
 */
export function decodeValue(serviceName: string, value: unknown): StoreEntry {
  const params = paramsOf(value);
  if (typeof params === 'string') return { serviceName, params: null, error: params };
  if (params.serviceName === undefined) return { serviceName, params: { ...params, serviceName } };
  if (params.serviceName !== serviceName) {
    return { serviceName, params: null, error: `serviceName "${params.serviceName}" does not match the key "${serviceName}"` };
  }
  return { serviceName, params };
}

/** Decode a stored text (a Consul KV value): it must be JSON before it can be anything else. */
export function decodeRoute(serviceName: string, text: string | null): StoreEntry {
  if (text === null || text.trim() === '') return { serviceName, params: null, error: 'the value is empty' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { serviceName, params: null, error: `the value is not JSON: ${(error as Error).message}` };
  }
  return decodeValue(serviceName, value);
}

/** The entries by serviceName: a copy, sorted unless they came in order (Consul lists keys in order). */
export function sortEntries(entries: readonly StoreEntry[]): StoreEntry[] {
  const copy = [...entries];
  for (let i = 1; i < copy.length; i++) if (compareNames(copy[i - 1], copy[i]) > 0) return copy.sort(compareNames);
  return copy;
}

function compareNames(a: StoreEntry, b: StoreEntry): number {
  return a.serviceName < b.serviceName ? -1 : a.serviceName > b.serviceName ? 1 : 0;
}
