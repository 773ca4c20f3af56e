import { watch } from 'chokidar';
import { Templates, loadTemplates } from './templates';

export interface TemplateWatcher {
  close(): Promise<void>;
}

/** Edits often come as several writes (editor save, `cp -r`): load once they stop. */
const SETTLE_MS = 100;

/**
 * Watch `dir` and call `onChange` with the newly compiled set after every change to a `*.hbs`
 * file. A set that does not load calls `onError` instead; the caller keeps what it had.
 */
export function watchTemplates(dir: string, onChange: (templates: Templates) => void, onError: (error: Error) => void): TemplateWatcher {
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    timer = undefined;
    let templates: Templates;
    try {
      templates = loadTemplates(dir);
    } catch (error) {
      onError(error as Error);
      return;
    }
    onChange(templates);
  };
  const watcher = watch(dir, {
    ignoreInitial: true,
    depth: 0,
    ignored: (file, stats) => Boolean(stats?.isFile() && !file.endsWith('.hbs')),
  });
  watcher.on('all', () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, SETTLE_MS);
  });
  watcher.on('error', (error) => onError(error instanceof Error ? error : new Error(String(error))));
  return {
    async close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await watcher.close();
    },
  };
}
