import * as http from 'http';
import { sleep } from './ports';

/** What one keep-alive client saw. */
export interface KeepAliveResult {
  ok: number;
  failed: string[];
  /** Connections it had to open: 1 when no connection was ever closed under it. */
  connections: number;
}

/**
 * One keep-alive client, as browsers and other proxies are: one connection at a time, requests one
 * after another with short idle gaps (0-3 ms), until `isRunning` says stop. A request counts as ok
 * when it answers 200 from the backend named `backend` (its x-backend header).
 */
export function keepAliveClient(url: string, backend: string, isRunning: () => boolean): Promise<KeepAliveResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const result: KeepAliveResult = { ok: 0, failed: [], connections: 0 };
  const once = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200 && res.headers['x-backend'] === backend) result.ok += 1;
          else result.failed.push(`status ${res.statusCode}`);
          resolve();
        });
        res.on('error', (error) => {
          result.failed.push(error.message);
          resolve();
        });
      });
      req.on('socket', () => {
        if (!req.reusedSocket) result.connections += 1;
      });
      req.setTimeout(10000, () => req.destroy(new Error('timed out')));
      req.on('error', (error) => {
        result.failed.push(error.message);
        resolve();
      });
    });
  return (async () => {
    while (isRunning()) {
      await once();
      await sleep(Math.floor(Math.random() * 4));
    }
    agent.destroy();
    return result;
  })();
}
