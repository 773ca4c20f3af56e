/** The file store's file as an object: what JSON.stringify writes. */
export interface StoredJsonFile {
  readonly index: number;
  /** Written as the object Object.fromEntries makes of it (integer-like names first, as JavaScript orders keys). */
  readonly routes: ReadonlyMap<string, unknown>;
  readonly certs: Readonly<Record<string, unknown>>;
  readonly acme: object;
}

const ENTRY_SEPARATOR = Buffer.from(',\n');

/** Where the bytes of one route's entry are: a span of the last file's bytes (of its own buffer until it is written once). */
interface Span {
  readonly name: string;
  source: Buffer;
  start: number;
  end: number;
}

/**
 * The bytes of routes.json: exactly `JSON.stringify(file, null, 2)` and a newline (what people
 * edit by hand), with the bytes of each route's entry made once and remembered by its value
 * object. A write copies the values of the routes it leaves alone, so one changed route among
 * 10,000 is one value turned into JSON and a copy of the rest, not 2 MB of JSON made and encoded
 * again (JSON.stringify has no such memory). Each entry is remembered as a span of the last bytes
 * made (which the file store keeps anyway), not as a buffer of its own: 10,000 buffers cost 3 MB
 * more at 10,000 routes.
 */
export class StoredJson {
  private readonly spans = new WeakMap<object, Span>();

  bytes(file: StoredJsonFile): Buffer {
    const names = propertyOrder(file.routes.keys());
    const head = Buffer.from(`{\n  "index": ${JSON.stringify(file.index)},\n  "routes": ${names.length === 0 ? '{}' : '{\n'}`);
    const tail = Buffer.from(`${names.length === 0 ? '' : '\n  }'},\n  "certs": ${indented(file.certs, 1)},\n  "acme": ${indented(file.acme, 1)}\n}\n`);
    const spans = names.map((name) => this.span(name, file.routes.get(name)));
    let length = head.length + tail.length + Math.max(0, spans.length - 1) * ENTRY_SEPARATOR.length;
    for (const span of spans) length += span.end - span.start;
    const bytes = Buffer.allocUnsafe(length);
    let at = head.copy(bytes, 0);
    spans.forEach((span, i) => {
      if (i > 0) at += ENTRY_SEPARATOR.copy(bytes, at);
      const start = at;
      at += span.source.copy(bytes, at, span.start, span.end);
      // From now on the entry is read from these bytes: those of earlier writes are not kept.
      span.source = bytes;
      span.start = start;
      span.end = at;
    });
    tail.copy(bytes, at);
    return bytes;
  }

  /** Where `    "<name>": <value>` as it stands in the file is. */
  private span(name: string, value: unknown): Span {
    const own = (): Span => {
      const source = Buffer.from(`    ${JSON.stringify(name)}: ${indented(value, 2)}`);
      return { name, source, start: 0, end: source.length };
    };
    if (typeof value !== 'object' || value === null) return own();
    let known = this.spans.get(value);
    if (known?.name !== name) {
      known = own();
      this.spans.set(value, known);
    }
    return known;
  }
}

/**
 * The order JavaScript keeps an object's keys in, which JSON.stringify writes: names that are array
 * indices first, in numeric order, then the others as inserted. The routes are a map (a service may
 * be called `__proto__`), and making an object of 10,000 of them per write only to list its keys
 * would cost more than this.
 */
function propertyOrder(keys: Iterable<string>): string[] {
  const indices: string[] = [];
  const others: string[] = [];
  for (const key of keys) (isArrayIndex(key) ? indices : others).push(key);
  return [...indices.sort((a, b) => Number(a) - Number(b)), ...others];
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/**
 * `value` as JSON.stringify(..., null, 2) writes it `depth` levels down: its inner lines indented
 * two spaces more per level (a string in JSON holds no raw line break, so every one is structure).
 */
function indented(value: unknown, depth: number): string {
  return (JSON.stringify(value, null, 2) ?? 'null').replace(/\n/g, `\n${'  '.repeat(depth)}`);
}
