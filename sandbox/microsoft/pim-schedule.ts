import { GraphFailure, parseDuration } from './graph-http.ts';

/** The schedule of a PIM for Groups request (`scheduleInfo`, camelCase enums as Graph). */

const invalid = (message: string, code = 'InvalidRequest') => new GraphFailure(400, code, message);

/** `scheduleInfo` → start and end (null: no expiration); refused when it is not one or already over. */
export function parseSchedule(scheduleInfo: unknown, now: number) {
  const info = (scheduleInfo ?? {}) as Record<string, any>;
  const start = info.startDateTime ? Date.parse(info.startDateTime) : now;
  if (Number.isNaN(start)) throw invalid("The value of 'scheduleInfo.startDateTime' is not a valid date.");
  const exp = (info.expiration ?? { type: 'noExpiration' }) as Record<string, any>;
  let end: number | null;
  if (exp.type === 'afterDuration') {
    const ms = parseDuration(exp.duration);
    if (!ms) throw invalid("The value of 'scheduleInfo.expiration.duration' is not a valid ISO 8601 duration.");
    end = start + ms;
  } else if (exp.type === 'afterDateTime') {
    end = Date.parse(exp.endDateTime);
    if (Number.isNaN(end)) throw invalid("The value of 'scheduleInfo.expiration.endDateTime' is not a valid date.");
  } else if (exp.type === 'noExpiration' || exp.type === undefined) {
    end = null;
  } else {
    throw invalid(`The value '${String(exp.type)}' is not valid for the property 'type'.`, 'BadRequest');
  }
  if (end !== null && end <= Math.max(start, now))
    throw invalid('The schedule ends before it starts or is already over.', 'InvalidScheduleRequest');
  return { start, end, exp };
}
