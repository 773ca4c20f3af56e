import * as fs from 'fs';
import * as path from 'path';
import { SETTING_DEFINITIONS } from '../src/settings';

describe('README.md', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

  it.each(SETTING_DEFINITIONS.map((d) => [d.env, d.flag]))('documents %s and its flag', (env, flag) => {
    expect(readme).toContain(`| \`${env}\` | \`--${flag}\` |`);
  });

  it('has exactly the two set-up commands, which exist', () => {
    expect(readme).toContain('bash scripts/run.sh');
    expect(readme).toContain('bash scripts/test.sh');
    expect(fs.existsSync(path.join(__dirname, '..', 'scripts', 'run.sh'))).toBe(true);
    expect(fs.existsSync(path.join(__dirname, '..', 'scripts', 'test.sh'))).toBe(true);
  });

  it('names, for every promise, tests that exist under those names', () => {
    const start = readme.indexOf('### What we promise, and the test that holds us to it');
    expect(start).toBeGreaterThan(0);
    const rows = readme
      .slice(start)
      .split('\n')
      .filter((line) => line.startsWith('| **'));
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) {
      const cited = row.split(' | ')[1] ?? '';
      // `file.test.ts`: "name", "name" ... ; a name may elide a template part with …
      const files = [...cited.matchAll(/`([\w.-]+\.test\.ts)`((?::? "[^"]*",?)*)/g)];
      expect(files.length).toBeGreaterThan(0);
      for (const [, file, names] of files) {
        const source = fs.readFileSync(path.join(__dirname, file), 'utf8');
        for (const [, name] of names.matchAll(/"([^"]*)"/g)) {
          for (const part of name
            .split('…')
            .map((p) => p.trim())
            .filter((p) => p.length > 0))
            expect({ file, part, found: source.includes(part) }).toEqual({ file, part, found: true });
        }
      }
    }
  });
});
