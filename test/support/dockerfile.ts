// The Dockerfile read as data, and its stages replayed into local directories where no Docker
// engine runs: WORKDIR becomes the stage's directory, COPY copies from the build context (or
// from an earlier stage's directory), RUN runs through sh there with the stage's ENV. Anything
// else the replay cannot honour (a second WORKDIR, an absolute RUN path, ADD, ENTRYPOINT, …)
// is an error, so the replay never silently differs from what `docker build` would do.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Instruction {
  keyword: string;
  /** --name=value flags before the arguments (COPY --from, RUN --mount). */
  flags: Record<string, string>;
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i]!;
    while (/\\\s*$/.test(logical) && i + 1 < lines.length) logical = logical.replace(/\\\s*$/, ' ') + lines[++i]!.trim();
    const trimmed = logical.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const match = /^(\S+)\s*(.*)$/s.exec(trimmed)!;
    const keyword = match[1]!.toUpperCase();
    let rest = match[2]!;
    const flags: Record<string, string> = {};
    for (let flag = /^--([\w-]+)=(\S+)\s*/.exec(rest); flag; flag = /^--([\w-]+)=(\S+)\s*/.exec(rest)) {
      flags[flag[1]!] = flag[2]!;
      rest = rest.slice(flag[0].length);
    }
    const instruction = { keyword, flags, args: rest.trim(), line: start + 1 };
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!from) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ image: from[1]!, name: from[2], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`line ${instruction.line}: ${keyword} before any FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** CMD or ENTRYPOINT in exec form (a JSON array), else undefined (shell form). */
export function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? (parsed as string[]) : undefined;
  } catch {
    return undefined;
  }
}

export interface ReplayedStage {
  stage: Stage;
  /** The directory that stands for the stage's WORKDIR. */
  dir: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
}

export interface ReplayOptions {
  /** The build context (the repository). */
  context: string;
  /** Where the stage's WORKDIR is laid out (an empty directory). */
  dir: string;
  /** Stages replayed before, by name, for COPY --from. */
  earlier: Record<string, ReplayedStage>;
  /** Top-level names the build context leaves out (.dockerignore); copying one is an error. */
  ignored: string[];
  /** The environment RUN commands start from (the stage's ENV is added to it). */
  baseEnv: Record<string, string>;
  /** Stands in for a RUN command instead of running it (returns true when it did). */
  substitute?: (command: string, stage: ReplayedStage) => boolean;
  /** Receives the output of RUN commands. */
  log?: (chunk: string) => void;
}

export async function replayStage(stage: Stage, opts: ReplayOptions): Promise<ReplayedStage> {
  const replayed: ReplayedStage = { stage, dir: opts.dir, workdir: '', env: {} };
  for (const ins of stage.instructions) {
    const where = `line ${ins.line} (${ins.keyword})`;
    switch (ins.keyword) {
      case 'WORKDIR':
        if (replayed.workdir) throw new Error(`${where}: one WORKDIR per stage is all the replay maps`);
        replayed.workdir = ins.args;
        break;
      case 'ENV': {
        const pair = /^([\w.-]+)=(\S*)$/.exec(ins.args);
        if (!pair) throw new Error(`${where}: only ENV NAME=value is replayed`);
        replayed.env[pair[1]!] = pair[2]!;
        break;
      }
      case 'COPY':
        copy(ins, replayed, opts, where);
        break;
      case 'RUN': {
        if (!replayed.workdir) throw new Error(`${where}: RUN before WORKDIR`);
        if (execForm(ins.args)) throw new Error(`${where}: only shell-form RUN is replayed`);
        if (/(^|\s)\/(?!dev\/null)/.test(ins.args)) throw new Error(`${where}: absolute paths in RUN are not replayed`);
        if (opts.substitute?.(ins.args, replayed)) break;
        await run(ins.args, replayed.dir, { ...opts.baseEnv, ...replayed.env }, opts.log);
        break;
      }
      case 'USER':
        replayed.user = ins.args;
        break;
      case 'CMD':
        replayed.cmd = execForm(ins.args);
        if (!replayed.cmd) throw new Error(`${where}: CMD must be in exec form`);
        break;
      case 'EXPOSE':
        break;
      default:
        throw new Error(`${where}: not replayed (add it to test/support/dockerfile.ts if it is needed)`);
    }
  }
  return replayed;
}

function copy(ins: Instruction, replayed: ReplayedStage, opts: ReplayOptions, where: string): void {
  const parts = ins.args.split(/\s+/);
  if (parts.length < 2 || execForm(ins.args)) throw new Error(`${where}: only COPY <src>... <dest> is replayed`);
  const dest = parts.pop()!;
  const { from, ...other } = ins.flags;
  if (Object.keys(other).length > 0) throw new Error(`${where}: flags ${Object.keys(other).join(', ')} are not replayed`);
  const resolveSource = (src: string): string => {
    if (from) {
      const earlier = opts.earlier[from];
      if (!earlier) throw new Error(`${where}: no earlier stage named ${from}`);
      const relative = path.posix.relative(earlier.workdir, src);
      if (relative.startsWith('..') || path.posix.isAbsolute(relative)) throw new Error(`${where}: ${src} is outside ${from}'s WORKDIR`);
      return path.join(earlier.dir, relative);
    }
    if (path.isAbsolute(src) || src.split('/').includes('..')) throw new Error(`${where}: ${src} is outside the build context`);
    const top = src.replace(/^\.\//, '').split('/')[0]!;
    if (opts.ignored.includes(top)) throw new Error(`${where}: ${src} is left out of the build context by .dockerignore`);
    return path.join(opts.context, src);
  };
  const destination = path.join(opts.dir, dest);
  for (const src of parts) {
    const source = resolveSource(src);
    if (!fs.existsSync(source)) throw new Error(`${where}: ${src} does not exist`);
    // COPY of a directory copies its contents into dest; of files into a dest directory ending in '/'.
    const target = fs.statSync(source).isDirectory() || !dest.endsWith('/') ? destination : path.join(destination, path.basename(src));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.cpSync(source, target, { recursive: true });
  }
}

/** Runs a shell command; rejects with its output when it fails. */
export function run(command: string, cwd: string, env: Record<string, string>, log?: (chunk: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      log?.(chunk.toString());
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve(output) : reject(new Error(`\`${command}\` failed (${code ?? signal}):\n${output.slice(-4000)}`)),
    );
  });
}

/** Top-level names a .dockerignore leaves out (plain names only; patterns are not needed here). */
export function readDockerignore(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.includes('*') && !l.includes('/'));
}
