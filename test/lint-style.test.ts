// `npm run lint:eslint` is checked like the other fitness checks: with the project's own
// configuration, ESLint refuses the promise and `any` mistakes its type-aware rules exist for (a
// test file may read parsed JSON as `any`, nothing else changes there), passes the same code
// written correctly, and turns on no rule about layout, which is Prettier's job. Prettier
// (`npm run format:check`) formats the sources in the house style and leaves alone what is not ours.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter, type Rule } from 'eslint';
import { builtinRules } from 'eslint/use-at-your-own-risk';
import * as prettier from 'prettier';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = path.join(ROOT, 'eslint.config.js');

// The rules eslint-config-prettier turns off besides every rule of type "layout": they can
// contradict Prettier's output, so none may be on.
const PRETTIER_CONFLICTS = [
  'curly',
  'lines-around-comment',
  'max-len',
  'no-confusing-arrow',
  'no-mixed-operators',
  'no-tabs',
  'no-unexpected-multiline',
  'quotes',
  '@typescript-eslint/lines-around-comment',
  '@typescript-eslint/quotes',
];

// The rules that find real bugs: they must stay errors.
const BUG_RULES = ['@typescript-eslint/no-floating-promises', '@typescript-eslint/no-misused-promises', '@typescript-eslint/await-thenable'];
const UNSAFE_RULES = ['argument', 'assignment', 'call', 'member-access', 'return'].map((r) => `@typescript-eslint/no-unsafe-${r}`);

const severity = (entry: Linter.RuleEntry | undefined): number => {
  const level = Array.isArray(entry) ? entry[0] : entry;
  return level === 'error' ? 2 : level === 'warn' ? 1 : level === 'off' || level === undefined ? 0 : level;
};

function ruleMeta(config: Linter.Config, name: string): Rule.RuleMetaData | undefined {
  const slash = name.lastIndexOf('/');
  if (slash < 0) return builtinRules.get(name)?.meta;
  const rule = config.plugins?.[name.slice(0, slash)]?.rules?.[name.slice(slash + 1)];
  return typeof rule === 'object' ? (rule as Rule.RuleModule).meta : undefined;
}

interface Report {
  filePath: string;
  messages: { ruleId: string | null; message: string }[];
}

function lint(cwd: string): Promise<{ code: number; reports: Report[] }> {
  return new Promise((resolve, reject) => {
    // The same tool as `npm run lint:eslint` (`eslint .`), pointed at the project's configuration.
    execFile(
      path.join(ROOT, 'node_modules', '.bin', 'eslint'),
      ['--config', CONFIG, '--format', 'json', '.'],
      { cwd, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        try {
          resolve({ code, reports: JSON.parse(stdout) as Report[] });
        } catch {
          reject(new Error(`eslint exited ${code} without a JSON report: ${stderr || stdout}`));
        }
      },
    );
  });
}

const MISTAKES = `async function save(): Promise<void> {}
export function floating(): void {
  save();
}
export function misused(items: number[]): void {
  items.forEach(async () => {
    await save();
  });
}
export async function notThenable(n: number): Promise<number> {
  return await n;
}
export function name(text: string): string {
  return JSON.parse(text).name;
}
`;

const CORRECT = `async function save(): Promise<void> {}
export function floating(): void {
  void save();
}
export async function misused(items: number[]): Promise<void> {
  for (const _item of items) await save();
}
export async function notThenable(n: number): Promise<number> {
  return n;
}
export function name(text: string): string {
  return (JSON.parse(text) as { name: string }).name;
}
`;

describe('lint: ESLint keeps the type-aware rules and leaves layout to Prettier', function () {
  this.timeout(180_000);

  it('turns on no layout rule, and keeps the bug-finding rules as errors, for every part of the tree', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const files = ['src/app.ts', 'src/platform/db.ts', 'test/support/server.ts', 'bench/run.ts', 'seeds/sample.ts', 'knexfile.ts'];
    const migration = (await fs.readdir(path.join(ROOT, 'migrations'))).find((f) => f.endsWith('.ts'));
    assert.ok(migration, 'a migration to look at');
    files.push(`migrations/${migration}`);
    for (const file of files) {
      const config = (await eslint.calculateConfigForFile(path.join(ROOT, file))) as Linter.Config | undefined;
      assert.ok(config?.rules, `${file} is linted`);
      const on = Object.entries(config.rules)
        .filter(([, entry]) => severity(entry) > 0)
        .map(([rule]) => rule);
      assert.ok(on.length > 50, `${file}: the recommended sets apply (${on.length} rules on)`);
      for (const rule of on) {
        const meta = ruleMeta(config, rule);
        assert.ok(meta, `${file}: ${rule} is a known rule`);
        assert.notEqual(meta.type, 'layout', `${file}: ${rule} is a layout rule`);
        assert.ok(!PRETTIER_CONFLICTS.includes(rule), `${file}: ${rule} contradicts Prettier`);
      }
      for (const rule of BUG_RULES) assert.equal(severity(config.rules[rule]), 2, `${file}: ${rule} is an error`);
      if (file.startsWith('src/')) for (const rule of UNSAFE_RULES) assert.equal(severity(config.rules[rule]), 2, `${file}: ${rule} is an error`);
    }
  });

  it('refuses a floating promise, a promise where void is expected, an await of a non-promise and unchecked any, and passes them written correctly', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ail-eslint-'));
    try {
      const tsconfig = { compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, types: [] }, include: ['src', 'test'] };
      await fs.writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
      await fs.mkdir(path.join(dir, 'src'));
      await fs.mkdir(path.join(dir, 'test'));
      await fs.writeFile(path.join(dir, 'src', 'mistakes.ts'), MISTAKES);
      await fs.writeFile(path.join(dir, 'test', 'mistakes.test.ts'), MISTAKES);
      await fs.writeFile(path.join(dir, 'src', 'correct.ts'), CORRECT);

      const { code, reports } = await lint(dir);
      assert.equal(code, 1, 'eslint fails the run');
      const rulesOf = (file: string) => {
        const report = reports.find((r) => r.filePath === path.join(dir, file));
        assert.ok(report, `${file} was linted`);
        assert.ok(
          report.messages.every((m) => m.ruleId),
          `${file} parsed: ${JSON.stringify(report.messages)}`,
        );
        return [...new Set(report.messages.map((m) => m.ruleId))].sort();
      };
      assert.deepEqual(rulesOf('src/mistakes.ts'), [...BUG_RULES, '@typescript-eslint/no-unsafe-member-access', '@typescript-eslint/no-unsafe-return'].sort());
      // A test reads parsed JSON as `any`; the promise rules still hold there.
      assert.deepEqual(rulesOf('test/mistakes.test.ts'), [...BUG_RULES].sort());
      assert.deepEqual(rulesOf('src/correct.ts'), []);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

// In the house style already: single quotes, trailing commas, lines up to 160 columns.
const HOUSE_STYLE = `export function label(kind: { name: string; plural?: string }, count: number): string {
  const parts = [count, count === 1 ? kind.name : (kind.plural ?? \`\${kind.name}s\`)];
  return parts.join(' ');
}

export const defaults = {
  name: 'service',
  plural: 'services',
};
`;

describe('format: Prettier writes the house style and skips what is not ours', () => {
  // The CLI's own ignore files (Prettier 3 reads both).
  const ignorePath = [path.join(ROOT, '.gitignore'), path.join(ROOT, '.prettierignore')];

  it('formats the sources and configuration, and ignores dependencies, output, data, the lock file and Markdown', async () => {
    for (const file of [
      'src/app.ts',
      'test/support/server.ts',
      'bench/run.ts',
      'migrations/x.ts',
      'knexfile.ts',
      'eslint.config.js',
      'tsconfig.json',
      'docker-compose.yml',
    ]) {
      const info = await prettier.getFileInfo(path.join(ROOT, file), { ignorePath });
      assert.equal(info.ignored, false, `${file} is formatted`);
      assert.ok(info.inferredParser, `${file} has a parser`);
    }
    for (const file of [
      'package-lock.json',
      'dist/src/main.js',
      'node_modules/x/index.js',
      'data/pg-credentials.json',
      'bench/results/run.json',
      'coverage/lcov.info',
      'README.md',
      'docs/ARCHITECTURE.md',
    ]) {
      assert.equal((await prettier.getFileInfo(path.join(ROOT, file), { ignorePath })).ignored, true, `${file} is left alone`);
    }
  });

  it('leaves code in the house style as it is and rewrites other quoting and commas', async () => {
    const file = path.join(ROOT, 'src', 'label.ts');
    const options = await prettier.resolveConfig(file, { editorconfig: true });
    assert.ok(options, '.prettierrc.json applies to src');
    assert.equal(await prettier.format(HOUSE_STYLE, { ...options, filepath: file }), HOUSE_STYLE);
    const otherStyle = HOUSE_STYLE.replace("name: 'service',", 'name: "service",').replace("plural: 'services',", "plural: 'services'");
    assert.equal(await prettier.check(otherStyle, { ...options, filepath: file }), false);
  });
});
