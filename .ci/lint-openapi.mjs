// `redocly lint` (redocly.yaml: the recommended ruleset) that fails on warnings too: the OpenAPI
// document is kept at 0 errors and 0 warnings, and redocly itself exits 0 on warnings.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const file = process.argv[2];
if (!file) throw new Error('usage: node .ci/lint-openapi.mjs <openapi.json>');
const cli = path.resolve('node_modules/@redocly/cli/bin/cli.js');
const run = spawnSync(process.execPath, [cli, 'lint', '--config', 'redocly.yaml', '--format', 'json', file], { encoding: 'utf8' });
const start = run.stdout.indexOf('{');
if (start < 0) {
  process.stderr.write(run.stdout + run.stderr);
  process.exit(1);
}
const report = JSON.parse(run.stdout.slice(start));
for (const p of report.problems) {
  process.stdout.write(`${p.severity} ${p.ruleId}: ${p.message} (${p.location?.[0]?.pointer ?? ''})\n`);
}
const { errors, warnings } = report.totals;
process.stdout.write(`redocly lint ${file}: ${errors} errors, ${warnings} warnings\n`);
process.exit(errors + warnings === 0 && run.status === 0 ? 0 : 1);
