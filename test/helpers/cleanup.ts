import { removeTempDirs } from './tmp';

// Jest runs test files in workers that do not fire process 'exit' per file: clean up here.
afterAll(removeTempDirs);
