// `npx tsx bench/lib/show-profile.ts <file.cpuprofile> [top] [rest]`: the same summary the suites
// print, for any .cpuprofile (e.g. one written by `node --cpu-prof`); `rest` adds the REST suite's
// stack categories (JWT, driver, knex/objection, …).
import { renderProfile, summarizeProfile } from './profile.js';

const [file, top, categories] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/lib/show-profile.ts <file.cpuprofile> [top] [rest]');
  process.exit(2);
}
const cats = categories === 'rest' ? (await import('../rest.js')).REST_PROFILE_CATEGORIES : undefined;
console.log(renderProfile(await summarizeProfile(file, Number(top ?? 30), cats)));
