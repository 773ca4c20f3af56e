import { ChangeLog } from '../src/fleet/change-log';
import { fleetReport, Gathered } from '../src/fleet/fleet-report';
import type { ReplicaReport } from '../src/fleet/report-types';
import type { StoreEntry } from '../src/store/route-store';

/** The fleet's verdicts (lagging, differs, not serving) and the change log's attribution. */

function report(address: string, index: number, configHash: string, up = true): ReplicaReport {
  return {
    address,
    index,
    configHash,
    haproxy: { up, restarts: 0 },
    routes: [{ serviceName: 'a', destinations: [], status: 'UP', servers: 1, serversUp: 1, requests: 2, errors: 1 }],
    invalid: [],
    certs: [],
    changes: [],
  };
}

const peers = { hostname: 'tasks.proxy' };

describe('the fleet report', () => {
  it('marks a replica below the highest index as lagging, and one with another config at that index as differing', () => {
    const gathered: Gathered[] = [
      { address: '10.0.0.1', self: true, report: report('10.0.0.1', 7, 'aaa') },
      { address: '10.0.0.2', self: false, report: report('10.0.0.2', 7, 'aaa') },
      { address: '10.0.0.3', self: false, report: report('10.0.0.3', 7, 'bbb') },
      { address: '10.0.0.4', self: false, report: report('10.0.0.4', 5, 'ccc') },
    ];
    const fleet = fleetReport(gathered, peers);
    expect(fleet.replicas.map((r) => [r.address, r.lagging, r.differs, r.serving])).toEqual([
      ['10.0.0.1', false, false, true],
      ['10.0.0.2', false, false, true],
      ['10.0.0.3', false, true, true],
      ['10.0.0.4', true, false, true],
    ]);
    expect(fleet.routes[0]).toMatchObject({ serviceName: 'a', requests: 8, errors: 4 });
  });

  it('lists a replica that did not answer, and one whose HAProxy is down, as not serving', () => {
    const gathered: Gathered[] = [
      { address: '10.0.0.1', self: true, report: report('10.0.0.1', 3, 'aaa') },
      { address: '10.0.0.2', self: false, report: report('10.0.0.2', 3, 'aaa', false) },
      { address: '10.0.0.3', self: false, error: 'no answer: timeout' },
    ];
    const fleet = fleetReport(gathered, peers);
    expect(fleet.replicas.map((r) => [r.answered, r.serving])).toEqual([
      [true, true],
      [true, false],
      [false, false],
    ]);
    expect(fleet.replicas[2].error).toBe('no answer: timeout');
    expect(fleet.routes[0].perReplica[2]).toBeNull();
  });
});

const entry = (serviceName: string, port: string, writer?: 'API' | 'CLI'): StoreEntry => ({
  serviceName,
  params: { serviceName, port, users: 'u:secret' },
  ...(writer ? { writer } : {}),
});

describe('the change log', () => {
  it('logs added, changed (parameter names only) and removed routes, newest first, after the first snapshot', () => {
    const log = new ChangeLog();
    log.observe({ index: 1, entries: [entry('a', '80')] });
    expect(log.recent()).toEqual([]);
    log.observe({ index: 2, entries: [entry('a', '81', 'CLI'), entry('b', '80', 'API')] });
    log.observe({ index: 3, entries: [entry('b', '80', 'API')] });
    expect(log.recent().map((c) => [c.index, c.serviceName, c.what, c.detail, c.source])).toEqual([
      [3, 'a', 'removed', '', 'KV edit'],
      [2, 'b', 'added', '', 'API'],
      [2, 'a', 'changed', 'port', 'CLI'],
    ]);
    expect(JSON.stringify(log.recent())).not.toContain('secret');
  });

  it('gives a removal to the API that made it, whether the API or the watch tells first', () => {
    const log = new ChangeLog();
    log.observe({ index: 1, entries: [entry('a', '80'), entry('b', '80')] });
    log.observe({ index: 4, entries: [entry('b', '80')] });
    log.attribute('a', 4, 'API');
    log.attribute('b', 6, 'API');
    log.observe({ index: 6, entries: [] });
    expect(log.recent().map((c) => [c.serviceName, c.source])).toEqual([
      ['b', 'API'],
      ['a', 'API'],
    ]);
  });

  it('keeps a later hand edit a hand edit', () => {
    const log = new ChangeLog();
    log.observe({ index: 1, entries: [] });
    log.attribute('a', 2, 'API');
    log.observe({ index: 2, entries: [entry('a', '80')] });
    log.observe({ index: 3, entries: [entry('a', '81')] });
    expect(log.recent().map((c) => [c.what, c.source])).toEqual([
      ['changed', 'KV edit'],
      ['added', 'API'],
    ]);
  });
});
