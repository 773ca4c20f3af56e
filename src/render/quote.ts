/**
 * How untrusted text becomes one word of haproxy.cfg. route/ has already refused control
 * characters, which nothing here could carry.
 */

/**
 * Quote `value` as a single HAProxy word. Single quotes keep everything literal (no escapes, no
 * `$VAR` expansion); a value holding a single quote goes in double quotes, where `\`, `"` and `$`
 * must be escaped.
 */
export function quote(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** Log-format text where every `%` is literal (e.g. the replacement of replace-path). */
export function literalLogFormat(value: string): string {
  return value.replace(/%/g, '%%');
}

/**
 * Log-format text that keeps `%[fetch]` sample expressions (route/ allowed only known fetches)
 * and makes every other `%` literal.
 */
export function headerLogFormat(value: string): string {
  return value.replace(/%\[[a-z_]+\]|%/g, (match) => (match === '%' ? '%%' : match));
}
