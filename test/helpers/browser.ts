import * as fs from 'fs';
import * as path from 'path';
import { Browser, chromium } from 'playwright-core';
import { REPO_ROOT } from './sidecar';

/** Debian's chromium (scripts/test.sh installs it): playwright-core drives it, downloading nothing. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where test runs leave screenshots for a person to look at (under .cache/, which git ignores). */
export const SCREENSHOTS = path.join(REPO_ROOT, '.cache', 'screenshots');

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: the tests run as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}
