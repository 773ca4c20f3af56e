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

/**
 * One argument of a sample converter (e.g. regsub's regex), in double quotes with `\\` and `"`
 * escaped: HAProxy unescapes it once, so `,` and `)` inside it no longer end the argument.
 */
export function converterArgument(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
