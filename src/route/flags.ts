import { InvalidParameter } from '../errors';
import { parseServiceName, rawText } from './params';
import { booleanValue } from './values';

/**
 * The API's own parameters, beside the route's: `distribute`, `index`, `waitMs` and the serviceName
 * of `/remove` and `/applied`. They follow the same rules as route parameters (a boolean flag takes
 * the same words as `httpsOnly`), so `distribute=1` means what `httpsOnly=1` means.
 */
type Params = Readonly<Record<string, unknown>>;

function text(params: Params, name: string): string | undefined {
  const value = rawText(name, params[name])?.trim();
  return value === '' ? undefined : value;
}

/** A boolean flag; absent or empty is false. */
export function flagParam(params: Params, name: string): boolean {
  const value = text(params, name);
  return value === undefined ? false : booleanValue(name, value);
}

/** A whole number from 0 to `max`; absent or empty gives `fallback`. */
export function wholeNumberParam(params: Params, name: string, fallback: number, max: number): number {
  const value = text(params, name);
  if (value === undefined) return fallback;
  if (!/^\d{1,16}$/.test(value)) throw new InvalidParameter(name, `${JSON.stringify(value.slice(0, 60))} is not a whole number`);
  const n = Number(value);
  if (n > max) throw new InvalidParameter(name, `${n} is outside 0..${max}`);
  return n;
}

/** An optional serviceName (e.g. of `/applied`): absent gives undefined, present must be valid. */
export function optionalServiceName(params: Params): string | undefined {
  return text(params, 'serviceName') === undefined ? undefined : parseServiceName(params.serviceName);
}
