import { PermanentError } from '../../engine/errors.ts';
import { checkValue } from './query.ts';

const MAX_CORRELATION = 100; // task.correlation_id is a 100-character string

/** A correlation key fit to write and to look up by: non-empty, trimmed, at most 100 characters, query-safe. */
export function checkCorrelationId(id: unknown): string {
  if (typeof id !== 'string' || id.trim() === '')
    throw new PermanentError('refusing an empty correlation id: it would match unrelated tickets');
  if (id !== id.trim()) throw new PermanentError('correlation id has leading/trailing whitespace');
  if (id.length > MAX_CORRELATION)
    throw new PermanentError(
      `correlation id longer than ${MAX_CORRELATION} characters would be truncated by ServiceNow`,
    );
  try {
    checkValue('correlation_id', id);
  } catch (e) {
    throw new PermanentError(`invalid correlation id: ${(e as Error).message}`);
  }
  return id;
}
