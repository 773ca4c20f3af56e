import { Backend, request, startBackend } from './helpers/backends';
import { sleep } from './helpers/ports';
import { removeTempDirs } from './helpers/tmp';
import { Harness, routeTo, snapshotOf, startHarness } from './fixtures/applier-harness';

/** Bursts of store changes become few reloads, and the last snapshot always wins. */

const CHANGES = 1000;
const WINDOW_MS = 2000;
const TICK_MS = 20;

let backend: Backend;
let harness: Harness;

beforeAll(async () => {
  backend = await startBackend('many');
  harness = await startHarness({ RELOAD_QUIET_MS: '25', RELOAD_MAX_DELAY_MS: '500' });
});

afterAll(async () => {
  await harness?.applier.stop();
  await backend?.close();
  removeTempDirs();
});

it('turns 1,000 route changes within two seconds into far fewer reloads, and serves all 1,000', async () => {
  const routes: Record<string, string>[] = [];
  const perTick = CHANGES / (WINDOW_MS / TICK_MS);
  const began = Date.now();
  for (let change = 1; change <= CHANGES; change += 1) {
    routes.push(routeTo(`svc-${change}`, backend));
    harness.applier.submit(snapshotOf(change, routes));
    // Ticks keep to the wall clock, so an apply that holds the event loop is caught up on.
    if (change % perTick === 0) await sleep(Math.max(0, began + (change / perTick) * TICK_MS - Date.now()));
  }
  const submittedMs = Date.now() - began;
  const state = await harness.applier.waitForIndex(CHANGES, 20000);
  const liveMs = Date.now() - began;

  const reloads = harness.reports.filter((r) => r.outcome === 'success').length;
  const applies = harness.reports.map((r) => ({ outcome: r.outcome, routes: r.routes, ms: r.durationMs, changeToLiveMs: r.changeToLiveMs }));
  console.log(`${CHANGES} changes submitted in ${submittedMs} ms -> ${reloads} reloads; all live after ${liveMs} ms; ${JSON.stringify(applies)}`);
  // Renders of up to 1,000 routes share this event loop; on a busy machine they stretch the burst a little.
  expect(submittedMs).toBeLessThan(WINDOW_MS * 1.5);
  expect(reloads).toBeGreaterThanOrEqual(1);
  expect(reloads).toBeLessThan(CHANGES / 20);
  expect(harness.reports.every((r) => r.outcome === 'success' || r.outcome === 'skipped')).toBe(true);
  expect(state.routes).toHaveLength(CHANGES);
  for (let n = 1; n <= CHANGES; n += 1) expect(state.config).toContain(`backend svc-${n}-be${backend.port}`);
  for (const n of [1, 500, CHANGES]) expect((await request(`${harness.base}/svc-${n}`)).backend).toBe('many');
});

it('applies a constant stream instead of waiting for it to stop', async () => {
  const before = harness.reports.length;
  const began = Date.now();
  let index = CHANGES;
  const routes = [routeTo('stream', backend)];
  while (Date.now() - began < 3000) {
    index += 1;
    harness.applier.submit(snapshotOf(index, [...routes, routeTo(`tick-${index}`, backend)]));
    await sleep(10);
  }
  const during = harness.reports.slice(before).filter((r) => r.outcome === 'success');
  expect(during.length).toBeGreaterThanOrEqual(2);
  await harness.applier.waitForIndex(index, 5000);
  expect((await request(`${harness.base}/tick-${index}`)).backend).toBe('many');
});
