// An app node in a child process (`node --import tsx <script>`), for fault tests that SIGKILL it.
// The script prints one JSON line {"url": …} when it listens.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildNode {
  url: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startChildNode(script: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<ChildNode> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child node did not start in time:\n${output}`)), timeoutMs);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.startsWith('{"url"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`child node exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  return { url, child, exited };
}

/** SIGKILLs the node if it still runs, and waits for it to be gone. */
export async function killChildNode(node: ChildNode): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  await node.exited;
}

/**
 * The child's side: tells the parent its URL (the line startChildNode waits for), and closes the
 * app and its pool on SIGTERM/SIGINT or when the parent goes away (a crashed test run must not
 * leave the node behind).
 */
export function serveUntilStopped(app: { url: string; close(): Promise<void> }, knex: { destroy(): Promise<void> }): void {
  process.stdout.write(`${JSON.stringify({ url: app.url })}\n`);
  const stop = async () => {
    await app.close();
    await knex.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
}
