/**
 * Consul's answer to a recursive KV read, without parsing all of it. At 10,000 routes the answer
 * is about 3 MB of JSON (every value in base64), and every replica reads it again after each edit
 * of any key: JSON.parse made 10,000 objects and copied every value only for the store to find
 * 9,999 of them unchanged (same ModifyIndex). A scan finds each pair's key and ModifyIndex and
 * where its object is in the text; only the pairs that changed are parsed (JSON.parse of their
 * object alone). Anything the scan does not expect (another shape, a truncated answer) makes it
 * give up, and the caller parses the whole answer as before.
 */

/** One KV pair as Consul's KV API returns it. */
export interface KvPair {
  readonly Key: string;
  readonly Value: string | null;
  /** The Raft index of the key's last change. */
  readonly ModifyIndex?: number;
  readonly Flags?: number;
}

/** A pair of a listing: its key and ModifyIndex at once, the rest (value, flags) when asked. */
export interface ListedPair {
  /**
   * For lookups only: it may be a slice of the answer's text (V8 keeps a substring as a pointer
   * into its parent), which would keep 3 MB alive in whatever holds it; keep `pair().Key`.
   */
  readonly key: string;
  readonly modifyIndex: number | undefined;
  pair(): KvPair;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** A pair whose object is parsed from its span of the text when first asked for. */
class ScannedPair implements ListedPair {
  private parsed: KvPair | undefined;

  constructor(
    private readonly text: string,
    private readonly start: number,
    private readonly end: number,
    readonly key: string,
    readonly modifyIndex: number | undefined,
  ) {}

  pair(): KvPair {
    // Parsed from a copy of the span: the strings of the result do not keep the 3 MB answer alive.
    this.parsed ??= JSON.parse(this.text.slice(this.start, this.end)) as KvPair;
    return this.parsed;
  }
}

/** A pair of a listing parsed whole (the fall-back). */
function parsedPair(pair: KvPair): ListedPair {
  return { key: pair.Key, modifyIndex: pair.ModifyIndex, pair: () => pair };
}

/**
 * The pairs of a listing (a JSON array of flat objects), in its order; throws SyntaxError (of
 * JSON.parse) when the text is not JSON at all.
 */
export function listPairs(text: string): ListedPair[] {
  return new ListingScanner(text).pairs() ?? (JSON.parse(text) as KvPair[]).map(parsedPair);
}

/**
 * A walk over the text with an index; every method returns false, -1 or undefined on anything
 * unexpected. No object is made per field (this runs over 70,000 fields at 10,000 routes).
 */
class ListingScanner {
  private at = 0;

  constructor(private readonly text: string) {}

  pairs(): ListedPair[] | undefined {
    const pairs: ListedPair[] = [];
    if (!this.expect(OPEN_ARRAY)) return undefined;
    this.space();
    if (this.code() === CLOSE_ARRAY) return this.end() ? pairs : undefined;
    for (;;) {
      const pair = this.object();
      if (!pair) return undefined;
      pairs.push(pair);
      this.space();
      const next = this.code();
      this.at++;
      if (next === CLOSE_ARRAY) return this.end() ? pairs : undefined;
      if (next !== COMMA) return undefined;
    }
  }

  /** One flat object: string keys; values strings, null or non-negative integers. */
  private object(): ListedPair | undefined {
    const text = this.text;
    this.space();
    const start = this.at;
    if (!this.expect(OPEN_OBJECT)) return undefined;
    let key: string | undefined;
    let modifyIndex: number | undefined;
    this.space();
    for (;;) {
      const nameStart = this.at + 1;
      const nameEnd = this.string();
      if (nameEnd < 0 || !this.expect(COLON)) return undefined;
      this.space();
      const first = this.code();
      if (first === QUOTE) {
        const valueStart = this.at + 1;
        const valueEnd = this.string();
        if (valueEnd < 0) return undefined;
        if (this.isName(nameStart, nameEnd, 'Key')) key = this.stringValue(valueStart, valueEnd);
      } else if (first === 0x6e && text.startsWith('null', this.at)) {
        this.at += 4;
      } else {
        const number = this.integer();
        if (number < 0) return undefined;
        if (this.isName(nameStart, nameEnd, 'ModifyIndex')) modifyIndex = number;
      }
      this.space();
      const next = this.code();
      this.at++;
      if (next === CLOSE_OBJECT) break;
      if (next !== COMMA) return undefined;
      this.space();
    }
    if (key === undefined) return undefined;
    return new ScannedPair(text, start, this.at, key, modifyIndex);
  }

  /** At a string's opening quote: moves past the string and returns the index of its closing quote (-1: none). */
  private string(): number {
    const text = this.text;
    if (text.charCodeAt(this.at) !== QUOTE) return -1;
    for (let quote = text.indexOf('"', this.at + 1); quote >= 0; quote = text.indexOf('"', quote + 1)) {
      let backslashes = 0;
      while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 1) continue;
      this.at = quote + 1;
      return quote;
    }
    return -1;
  }

  /** A string's value: the text as it stands, or unescaped by JSON.parse when it holds an escape (looked for only in keys, which are short). */
  private stringValue(start: number, end: number): string {
    for (let i = start; i < end; i++) {
      if (this.text.charCodeAt(i) === BACKSLASH) return JSON.parse(this.text.slice(start - 1, end + 1)) as string;
    }
    return this.text.slice(start, end);
  }

  /** Whether the name is `name` as written (Consul escapes none of its names; an escaped Key makes the scan give up). */
  private isName(start: number, end: number, name: string): boolean {
    return end - start === name.length && this.text.startsWith(name, start);
  }

  /** A non-negative integer of at most 15 digits (exact as a number); -1 for anything else. */
  private integer(): number {
    const start = this.at;
    let value = 0;
    for (let code = this.code(); code >= 0x30 && code <= 0x39; code = this.code()) {
      value = value * 10 + code - 0x30;
      this.at++;
    }
    return this.at > start && this.at - start <= 15 ? value : -1;
  }

  private expect(code: number): boolean {
    this.space();
    if (this.code() !== code) return false;
    this.at++;
    return true;
  }

  /** Only white space after the array. */
  private end(): boolean {
    this.space();
    return this.at >= this.text.length;
  }

  private space(): void {
    for (let code = this.code(); code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09; code = this.code()) this.at++;
  }

  private code(): number {
    return this.text.charCodeAt(this.at);
  }
}
