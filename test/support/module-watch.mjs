// `node --import ./test/support/module-watch.mjs …`: every module the process resolves whose URL
// contains MODULE_WATCH_PATTERN is appended, one URL a line, to MODULE_WATCH_FILE. Lets a test
// see what a child process loaded (through ESM imports and the requires they lead to).
import { register } from 'node:module';

register('./module-watch-hooks.mjs', import.meta.url, {
  data: { file: process.env.MODULE_WATCH_FILE, pattern: process.env.MODULE_WATCH_PATTERN },
});
