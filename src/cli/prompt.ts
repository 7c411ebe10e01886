import { createInterface } from 'node:readline';

/**
 * One question at the terminal. A secret's keystrokes are not echoed (the line shows only the
 * question); an empty answer takes the default.
 */
export function ask(question: string, o: { secret?: boolean; default?: string } = {}): Promise<string> {
  const shown = `${question}${o.default ? ` [${o.default}]` : ''}: `;
  const output = process.stdout;
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  if (o.secret) {
    // readline echoes through _writeToOutput; print the question once, then nothing of what is typed.
    const internal = rl as unknown as { _writeToOutput(s: string): void };
    let asked = false;
    internal._writeToOutput = (s: string) => {
      if (!asked) output.write(s);
      asked = true;
    };
  }
  return new Promise((resolve) => {
    rl.question(shown, (answer) => {
      if (o.secret) output.write('\n');
      rl.close();
      resolve(answer.trim() || o.default || '');
    });
  });
}
