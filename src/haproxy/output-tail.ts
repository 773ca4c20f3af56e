import * as readline from 'readline';
import type { Readable } from 'stream';
import type { Logger } from '../logger';

const KEPT_LINES = 20;

/**
 * HAProxy's stdout/stderr, line by line: drained (a full pipe would block HAProxy), logged at
 * debug, and the last lines kept to explain why a start failed.
 */
export class OutputTail {
  private readonly lines: string[] = [];
  /** Lines seen so far, kept or not: a mark for linesSince(). */
  private seen = 0;

  constructor(private readonly logger: Logger) {}

  /** `onLine`: every line goes there instead (the access log), and is not kept. */
  follow(stream: Readable | null | undefined, onLine?: (line: string) => void): void {
    if (!stream) return;
    readline.createInterface({ input: stream }).on('line', onLine ?? ((line) => this.add(line)));
  }

  text(): string {
    return this.lines.join('\n');
  }

  /** A mark to pass to linesSince(). */
  mark(): number {
    return this.seen;
  }

  /** The kept lines that came after `mark`. */
  linesSince(mark: number): string[] {
    return this.lines.slice(Math.max(0, this.lines.length - (this.seen - mark)));
  }

  private add(line: string): void {
    this.seen += 1;
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) this.lines.shift();
    this.logger.debug({ haproxy: line }, 'haproxy output');
  }
}
