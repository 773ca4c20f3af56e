import * as fs from 'fs';
import * as path from 'path';
import { ConfigRejected } from '../src/errors';
import { parseRoute } from '../src/route/params';
import type { Route } from '../src/route/route';
import { Backend, startBackend } from './helpers/backends';
import { HAPROXY_BIN } from './helpers/haproxy';
import { tempDir } from './helpers/tmp';
import { Harness, routeTo, startHarness } from './fixtures/applier-harness';

/**
 * Routes the API is about to store are checked with `haproxy -c` before they are stored. A burst
 * of them shares checks; a bad one among them is still refused alone.
 */

let backend: Backend;
let harness: Harness;
let invocations: string;

/** The real HAProxy, behind a script that writes down each `haproxy -c` it is asked for. */
function countingHaproxy(): string {
  const dir = tempDir('counting-haproxy-');
  invocations = path.join(dir, 'checks.log');
  const script = path.join(dir, 'haproxy');
  fs.writeFileSync(script, `#!/bin/sh\ncase " $* " in *" -c "*) echo check >> '${invocations}';; esac\nexec '${HAPROXY_BIN}' "$@"\n`, { mode: 0o755 });
  return script;
}

function checksSoFar(): number {
  return fs.existsSync(invocations) ? fs.readFileSync(invocations, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** A route the parser accepts but HAProxy refuses (a variable-length lookbehind PCRE rejects): regexes are HAProxy's to judge. */
function breakingRoute(): Route {
  return parseRoute(routeTo('breaks', backend, { reqPathSearch: '(?<=a+)b', reqPathReplace: '/x' }));
}

beforeAll(async () => {
  backend = await startBackend('demo');
  harness = await startHarness({ HAPROXY_BIN: countingHaproxy() });
});

afterAll(async () => {
  await harness?.applier.stop();
  await backend?.close();
});

it('checks a burst of concurrent routes with a few haproxy -c runs, not one each', async () => {
  const before = checksSoFar();
  const routes = Array.from({ length: 20 }, (_, i) => parseRoute(routeTo(`burst-${i}`, backend)));
  await Promise.all(routes.map((route) => harness.applier.checkRoute(route)));
  expect(checksSoFar() - before).toBeLessThanOrEqual(3);
});

it("refuses the bad route of a burst with HAProxy's message and accepts the others", async () => {
  const good = Array.from({ length: 5 }, (_, i) => harness.applier.checkRoute(parseRoute(routeTo(`fine-${i}`, backend))));
  const bad = harness.applier.checkRoute(breakingRoute()).catch((error: Error) => error);
  await expect(Promise.all(good)).resolves.toHaveLength(5);
  const error = await bad;
  expect(error).toBeInstanceOf(ConfigRejected);
  expect((error as Error).message).toMatch(/breaks|regex|replace-path|lookbehind/i);
});
