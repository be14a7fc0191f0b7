// Reads a V8 .cpuprofile and says where the time went: the top functions by self time, and the
// same time grouped by where the code lives (our src/, each package, Node internals, GC, idle).
import fs from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Sampled wall time and the part that was not idle, in ms. */
  totalMs: number;
  busyMs: number;
  /** Each with the caller it was most often sampled under (native functions have no file of their own). */
  functions: { name: string; where: string; selfMs: number; share: number; caller: string }[];
  areas: { area: string; selfMs: number; share: number }[];
  /** Busy time by the first matching category anywhere on the sample's stack (when categories are given). */
  categories?: { category: string; ms: number; share: number }[];
}

/** A named test on a stack frame's URL, e.g. ['pg driver', /node_modules\/pg\//]; first match wins. */
export type StackCategory = [name: string, url: RegExp];

const ROOT = `file://${process.cwd()}/`;

function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native/builtin)';
  if (url.startsWith('node:')) return 'node: internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const local = url.startsWith(ROOT) ? url.slice(ROOT.length) : url;
  const dir = /^(src\/(?:modules|platform)\/[^/]+|src|bench|migrations)/.exec(local);
  return dir ? dir[1]!.replace(/\.ts$/, '') : local;
}

function whereOf(frame: CallFrame): string {
  const { url, lineNumber } = frame;
  if (!url) return '';
  const short = url.startsWith(ROOT) ? url.slice(ROOT.length) : url.replace(/^file:\/\/.*?node_modules\//, '');
  return `${short}:${lineNumber + 1}`;
}

export async function summarizeProfile(file: string, top = 25, categories?: StackCategory[]): Promise<ProfileSummary> {
  const profile = JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const self = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute the interval after it to sample i.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt);
  }
  const functions = new Map<string, { name: string; where: string; us: number; callers: Map<string, number> }>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const name = frame.functionName || '(anonymous)';
    const where = whereOf(frame);
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0, callers: new Map<string, number>() };
    entry.us += us;
    const parent = parentOf.has(id) ? byId.get(parentOf.get(id)!)!.callFrame : undefined;
    const caller = parent ? `${parent.functionName || '(anonymous)'} ${whereOf(parent)}`.trim() : '';
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + us);
    functions.set(key, entry);
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busy = total - idle;
  let byCategory: ProfileSummary['categories'];
  if (categories) {
    const sums = new Map<string, number>();
    for (const [id, us] of self) {
      const leaf = byId.get(id)!.callFrame;
      if (leaf.functionName === '(idle)') continue;
      let name = leaf.functionName === '(garbage collector)' ? 'garbage collector' : 'other';
      if (name === 'other') {
        const stack: CallFrame[] = [];
        for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) stack.push(byId.get(cur)!.callFrame);
        name = categories.find(([, re]) => stack.some((f) => re.test(f.url)))?.[0] ?? 'other (node internals, async plumbing, http server)';
      }
      sums.set(name, (sums.get(name) ?? 0) + us);
    }
    byCategory = [...sums.entries()].sort((a, b) => b[1] - a[1]).map(([category, us]) => ({ category, ms: us / 1000, share: us / busy }));
  }
  return {
    categories: byCategory,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({
        name: f.name,
        where: f.where,
        selfMs: f.us / 1000,
        share: f.us / busy,
        caller: [...f.callers.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
      })),
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: us / 1000, share: us / busy })),
  };
}

export function renderProfile(s: ProfileSummary, topAreas = 15): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `sampled ${s.totalMs.toFixed(0)} ms, busy (not idle) ${s.busyMs.toFixed(0)} ms; shares are of busy time`,
    ...(s.categories
      ? [
          '',
          'busy time by what is on the stack (first matching category):',
          ...s.categories.map((c) => `  ${pct(c.share)}  ${c.ms.toFixed(0).padStart(6)} ms  ${c.category}`),
        ]
      : []),
    '',
    'self time by area:',
    ...s.areas.slice(0, topAreas).map((a) => `  ${pct(a.share)}  ${a.selfMs.toFixed(0).padStart(6)} ms  ${a.area}`),
    '',
    'top functions by self time:',
    ...s.functions.map(
      (f) => `  ${pct(f.share)}  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}` + (f.where ? '' : `  (mostly under ${f.caller || '?'})`),
    ),
  ];
  return lines.join('\n');
}
