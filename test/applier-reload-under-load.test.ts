import { Backend, request, startBackend } from './helpers/backends';
import { removeTempDirs } from './helpers/tmp';
import { Harness, percentile, routeTo, RunningLoad, snapshotOf, startHarness, startLoad } from './fixtures/applier-harness';

/**
 * The promise of the whole project: reloads are invisible to traffic. A second process keeps two
 * keep-alive connections busy on a route that never changes while 100 reloads swap other routes.
 */

const RELOADS = 100;

let stable: Backend;
let churn: Backend;
let harness: Harness;
let load: RunningLoad | undefined;

beforeAll(async () => {
  stable = await startBackend('stable');
  churn = await startBackend('churn');
  harness = await startHarness();
});

afterAll(async () => {
  load?.kill();
  await harness?.applier.stop();
  await stable?.close();
  await churn?.close();
  removeTempDirs();
});

it('gives zero failed requests and zero non-2xx on a stable route across 100 reloads under load', async () => {
  const first = await harness.applier.applyNow(snapshotOf(1, [routeTo('stable', stable)]));
  expect(first.outcome).toBe('success');
  expect((await request(`${harness.base}/stable`)).backend).toBe('stable');

  load = await startLoad(`${harness.base}/stable`, 2, 60, 500);
  const durations: number[] = [];
  for (let i = 0; i < RELOADS; i += 1) {
    const routes = [routeTo('stable', stable), routeTo(`churn-${i}`, churn)];
    const report = await harness.applier.applyNow(snapshotOf(i + 2, routes));
    expect(report.outcome).toBe('success');
    durations.push(report.durationMs);
  }
  const result = await load.finish();
  load = undefined;

  expect((await request(`${harness.base}/churn-${RELOADS - 1}`)).backend).toBe('churn');
  expect(harness.applier.state().index).toBe(RELOADS + 1);
  console.log(`100 reloads under load: ${JSON.stringify(result)}; reload ms p50 ${percentile(durations, 50)} p95 ${percentile(durations, 95)}`);
  expect(result.requests).toBeGreaterThan(RELOADS);
  expect(result.errors).toBe(0);
  expect(result.timeouts).toBe(0);
  expect(result.non2xx).toBe(0);
  expect(result.ok2xx).toBe(result.requests);
}, 120000);
