// Asking a person on the terminal: a hidden password (typed twice) and a yes/no confirmation.
// Lines are queued as they come, so what was typed ahead (or pasted) is not lost between questions.
import { createInterface, type Interface } from 'node:readline';
import { CliError } from './context.js';

class Terminal {
  private readonly rl: Interface;
  private readonly lines: string[] = [];
  private readonly waiting: Array<(line: string | null) => void> = [];
  private closed = false;

  constructor() {
    this.rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // Echo nothing of what is typed (readline writes each key through _writeToOutput); the
    // prompts are written directly.
    (this.rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
    this.rl.on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(null);
    });
    this.rl.on('SIGINT', () => this.rl.close());
  }

  async ask(question: string, hidden: boolean): Promise<string> {
    process.stderr.write(question);
    const line = this.lines.shift() ?? (this.closed ? null : await new Promise<string | null>((r) => this.waiting.push(r)));
    process.stderr.write(hidden ? '\n' : `${line ?? ''}\n`);
    if (line === null) throw new CliError('cancelled: no answer');
    return line;
  }

  close(): void {
    this.rl.close();
  }
}

export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

export async function promptPassword(what: string): Promise<string> {
  const t = new Terminal();
  try {
    const first = await t.ask(`${what}: `, true);
    const second = await t.ask('Again, to be sure: ', true);
    if (first !== second) throw new CliError('the two passwords differ; nothing was sent');
    return first;
  } finally {
    t.close();
  }
}

export async function confirm(question: string): Promise<boolean> {
  const t = new Terminal();
  try {
    return /^y(es)?$/i.test((await t.ask(`${question} [y/N] `, false)).trim());
  } finally {
    t.close();
  }
}
