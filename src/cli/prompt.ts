// Asking a person on the terminal: a hidden password (typed twice) and a yes/no confirmation.
import { createInterface } from 'node:readline';

function ask(question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      // Echo nothing of what is typed (readline writes each key through _writeToOutput).
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.includes(question)) process.stderr.write(question);
        else if (s.includes('\n') || s.includes('\r')) process.stderr.write('\n');
      };
    }
    rl.on('SIGINT', () => {
      rl.close();
      reject(new Error('cancelled'));
    });
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });
}

export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

export async function promptPassword(what: string): Promise<string> {
  const first = await ask(`${what}: `, true);
  const second = await ask(`${what} (again): `, true);
  if (first !== second) throw new Error('the two passwords differ; nothing was sent');
  return first;
}

export async function confirm(question: string): Promise<boolean> {
  return /^y(es)?$/i.test((await ask(`${question} [y/N] `, false)).trim());
}
