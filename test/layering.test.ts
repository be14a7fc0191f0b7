// The fitness checks of `npm run lint` are themselves checked: the layering rules refuse a platform
// file importing a module and an import cycle, and the copy-paste threshold refuses CRUD written
// twice. Each runs the real tool (dependency-cruiser, jscpd) with the project's own configuration
// on a small tree made here, and once on src/ itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    // Plain text whatever the terminal or CI says (tools colour their output under CI=true).
    const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
    execFile(path.join(BIN, cmd), args, { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: stripAnsi(stdout), stderr: stripAnsi(stderr) });
    });
  });
}

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ail-lint-'));
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  }
  return dir;
}

async function cruise(dir: string): Promise<{ code: number; rules: string[] }> {
  // The same invocation as `npm run lint:layers`: its exit code is what CI sees.
  const result = await run('depcruise', ['src', '--config', path.join(ROOT, '.dependency-cruiser.cjs')], dir);
  const rules = [...result.stdout.matchAll(/^\s*error ([\w-]+):/gm)].map((m) => m[1]);
  return { code: result.code, rules };
}

/** A service with the CRUD helpers every record kind used to carry, under another name each time. */
function crudCopy(name: string): string {
  return `export class ${name}Service {
  async findRow(ctx: { tenantId: string }, id: string, opts: { forUpdate?: boolean; includeDeleted?: boolean } = {}) {
    if (!isUuid(id)) throw notFound(\`No ${name.toLowerCase()} with id \${id}.\`);
    const q = scoped(${name}, ctx, { includeDeleted: opts.includeDeleted }).findById(id);
    if (opts.forUpdate) q.forUpdate();
    const row = await q;
    if (!row) throw notFound(\`No ${name.toLowerCase()} with id \${id}.\`);
    return row;
  }

  checkVersion(current: { row_version: number }, opts: { expectedVersion?: number }) {
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== current.row_version) {
      throw preconditionFailed(\`The ${name.toLowerCase()} is at version \${current.row_version}, not \${opts.expectedVersion}.\`);
    }
  }

  async remove(w: { actor: { userId: string } }, id: string, opts: { expectedVersion?: number } = {}) {
    const current = await this.findRow(w as never, id, { forUpdate: true });
    this.checkVersion(current, opts);
    await scoped(${name}, w).findById(id).patch({
      deleted_at: new Date(), row_version: current.row_version + 1, updated_at: new Date(), updated_by: w.actor.userId,
    });
  }
}
`;
}

describe('lint: the fitness checks hold and would catch a regression', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
  });

  it('finds no layering violation and no copy-paste over the threshold in src/ itself', async () => {
    assert.deepEqual(await cruise(ROOT), { code: 0, rules: [] });
    const duplicates = await run('jscpd', ['--config', path.join(ROOT, '.jscpd.json')], ROOT);
    assert.equal(duplicates.code, 0, duplicates.stdout.slice(-2000));
  });

  it('refuses a platform file that imports a module', async () => {
    const dir = await tree({
      'src/modules/catalog/kinds.ts': 'export const KINDS = { services: 1 };\n',
      'src/platform/collab/layout.ts': "import { KINDS } from '../../modules/catalog/kinds';\nexport const n = KINDS.services;\n",
    });
    dirs.push(dir);
    const { code, rules } = await cruise(dir);
    assert.notEqual(code, 0);
    assert.deepEqual(rules, ['platform-knows-no-module']);
  });

  it('refuses an import cycle in src/', async () => {
    const dir = await tree({
      'src/modules/a/service.ts': "import { b } from '../b/service';\nexport const a = () => b();\n",
      'src/modules/b/service.ts': "import { a } from '../a/service';\nexport const b = () => a();\n",
    });
    dirs.push(dir);
    const { code, rules } = await cruise(dir);
    assert.notEqual(code, 0);
    assert.ok(rules.length > 0 && rules.every((r) => r === 'no-circular'), `rules: ${rules.join(', ')}`);
  });

  it('passes the same checks on a tree that keeps the layers', async () => {
    const dir = await tree({
      'src/platform/records.ts': 'export const find = (id: string) => id;\n',
      'src/modules/catalog/service.ts': "import { find } from '../../platform/records';\nexport const get = (id: string) => find(id);\n",
    });
    dirs.push(dir);
    assert.deepEqual(await cruise(dir), { code: 0, rules: [] });
  });

  it('refuses CRUD helpers written again per record kind (the copy-paste threshold)', async () => {
    const kinds = ['Incident', 'Scorecard', 'Comment', 'Dashboard'];
    const files = Object.fromEntries(kinds.map((k) => [`src/modules/${k.toLowerCase()}s/service.ts`, crudCopy(k)]));
    // Enough distinct code around them that the copies are a few percent of the tree, as they were.
    for (let i = 0; i < 12; i++) {
      files[`src/platform/part${i}.ts`] = Array.from({ length: 40 }, (_, j) => `export const v${i}_${j} = ${i * 100 + j} * ${j + 7};`).join('\n') + '\n';
    }
    const dir = await tree(files);
    dirs.push(dir);
    const result = await run('jscpd', ['--config', path.join(ROOT, '.jscpd.json'), path.join(dir, 'src')], ROOT);
    assert.notEqual(result.code, 0, result.stdout.slice(-2000));
    assert.match(result.stdout, /too many duplicates|threshold/i);
  });
});
