import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parseFeedback, parseIncidents, parseIssues } from '../flows/m365/match/input.ts';
import { DEFAULT_THRESHOLD, InvalidInputError, matchAll } from '../flows/m365/match/matcher.ts';

/**
 * `ticketloop m365 match --issues FILE --incidents FILE [--threshold X]`: the offline entry point
 * (a stable contract). Reads a Graph list response of serviceHealthIssue and a ServiceNow Table API
 * response of incidents, prints `{"results": [{"incident", "matches": [{"issue", "score", "why"}]}]}`
 * with only the matches at or above the threshold, best first. No server, no configuration.
 */

function threshold(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('--threshold must be a number from 0 to 1');
  return n;
}

function readJson(file: string, option: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidInputError(`${option} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${option} ${file}: not JSON (${(e as Error).message})`);
  }
}

export function registerM365Commands(cli: Command): void {
  const m365 = cli.command('m365').description('Microsoft 365 support: service health and incidents');
  m365
    .command('match')
    .description('rank the health issues for each incident (offline: reads two files, prints JSON)')
    .requiredOption('--issues <file>', 'Graph list response: {"value": [serviceHealthIssue...]}')
    .requiredOption('--incidents <file>', 'ServiceNow Table API response: {"result": [incident...]}')
    .option('--threshold <x>', `minimum score, 0 to 1 (default ${DEFAULT_THRESHOLD})`, threshold)
    .option('--feedback <file>', 'agents\' verdicts: {"feedback": [{"incident", "issue", "verdict", "text"?}]}')
    .action((o: { issues: string; incidents: string; threshold?: number; feedback?: string }) => {
      try {
        const issues = parseIssues(readJson(o.issues, '--issues'), o.issues);
        const incidents = parseIncidents(readJson(o.incidents, '--incidents'), o.incidents);
        const feedback = o.feedback ? parseFeedback(readJson(o.feedback, '--feedback'), o.feedback) : [];
        const results = matchAll(issues, incidents, { threshold: o.threshold ?? DEFAULT_THRESHOLD, feedback });
        process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
      } catch (e) {
        if (!(e instanceof InvalidInputError)) throw e;
        process.stderr.write(`ticketloop m365 match: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}
