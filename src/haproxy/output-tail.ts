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

  constructor(private readonly logger: Logger) {}

  follow(stream: Readable | null | undefined): void {
    if (!stream) return;
    readline.createInterface({ input: stream }).on('line', (line) => this.add(line));
  }

  text(): string {
    return this.lines.join('\n');
  }

  private add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) this.lines.shift();
    this.logger.debug({ haproxy: line }, 'haproxy output');
  }
}
