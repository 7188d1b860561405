// Runs the `cachestore` command as a person or a script does: bin/cachestore.js in a child
// process (from the TypeScript source, so a stale dist/ never answers for the code under test).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/cachestore.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/** A child process with `env` only (plus PATH, HOME and the source switch), ended after timeoutMs. */
export function runProcess(command: string, args: string[], o: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', CACHESTORE_CLI_FROM_SOURCE: '1' };
    for (const [k, v] of Object.entries(o.env ?? {})) if (v !== undefined) env[k] = v;
    const child = spawn(command, args, { cwd: o.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(o.input ?? '');
  });
}

export function runCli(args: string[], o: CliOptions = {}): Promise<CliResult> {
  return runProcess(process.execPath, [BIN, ...args], o);
}
