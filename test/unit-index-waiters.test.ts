import { IndexWaiters } from '../src/applier/index-waiters';
import { NotLive } from '../src/errors';

/** Callers waiting for a store index, on Jest's fake clock. */
/** Let promise callbacks run (fake timers also fake process.nextTick). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('IndexWaiters', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('releases everyone waiting for the applied index or less, and nobody else', async () => {
    const waiters = new IndexWaiters<string>();
    const settled: string[] = [];
    for (const index of [3, 5, 7]) void waiters.wait(index, 1000).then((value) => settled.push(`${index}:${value}`));
    waiters.release(5, 'five');
    await flush();
    expect(settled.sort()).toEqual(['3:five', '5:five']);
    waiters.release(9, 'nine');
    await flush();
    expect(settled.sort()).toEqual(['3:five', '5:five', '7:nine']);
  });

  it('rejects a wait with NotLive when its timeout passes first, and forgets it', async () => {
    const waiters = new IndexWaiters<string>();
    const waiting = waiters.wait(4, 100);
    jest.advanceTimersByTime(100);
    await expect(waiting).rejects.toThrow(NotLive);
    await expect(waiting).rejects.toThrow('store index 4 is not live after 100 ms');
    waiters.release(4, 'late');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects every wait with the given error, clearing their timers', async () => {
    const waiters = new IndexWaiters<string>();
    const waits = [waiters.wait(1, 1000), waiters.wait(2, 1000)];
    waiters.rejectAll(new NotLive('stopping'));
    for (const wait of waits) await expect(wait).rejects.toThrow('stopping');
    expect(jest.getTimerCount()).toBe(0);
  });
});
