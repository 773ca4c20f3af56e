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
});
