import { InvalidSetting } from '../src/errors';
import { loadSettings } from '../src/settings';

describe('RECONCILE_INTERVAL', () => {
  it('is 30 seconds by default', () => {
    expect(loadSettings({}).reconcileIntervalMs).toBe(30000);
  });

  it('takes whole seconds, and 0 turns reconciliation off', () => {
    expect(loadSettings({ RECONCILE_INTERVAL: '10' }).reconcileIntervalMs).toBe(10000);
    expect(loadSettings({ RECONCILE_INTERVAL: '0' }).reconcileIntervalMs).toBe(0);
  });

  it.each(['soon', '1.5', '-1', '86401'])('refuses %s, naming the setting', (value) => {
    expect(() => loadSettings({ RECONCILE_INTERVAL: value })).toThrow(InvalidSetting);
    expect(() => loadSettings({ RECONCILE_INTERVAL: value })).toThrow(/RECONCILE_INTERVAL/);
  });
});
