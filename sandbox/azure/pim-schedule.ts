import { ArmError, isDateTime } from './arm.ts';
import type { AssignmentCtx } from './assignments.ts';

/**
 * The schedules of PIM requests in the ARM twin: ISO 8601 durations, `scheduleInfo` → start and end,
 * and the role management policy's ExpirationRule (pod-wire-format.md §2.1, §2.3).
 */

const pimError = (code: string, message: string) => new ArmError(400, code, message);

/** ISO 8601 duration (`PT8H`, `P1DT2H30M`, `PT90S`, `P1W`) → ms; undefined when it is not one. */
export function parseDuration(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(s.trim());
  if (!m || s.trim().toUpperCase() === 'P' || /T$/i.test(s.trim())) return undefined;
  const [w, d, h, min, sec] = m.slice(1).map((x) => Number(x ?? 0));
  return ((((w * 7 + d) * 24 + h) * 60 + min) * 60 + sec) * 1000;
}

/** The schedule of a request: start (default now), end from AfterDateTime / AfterDuration, none for NoExpiration. */
export function schedule(info: unknown, now: number) {
  const i = (info && typeof info === 'object' ? info : {}) as Record<string, any>;
  const e = (i.expiration && typeof i.expiration === 'object' ? i.expiration : {}) as Record<string, any>;
  if (i.startDateTime != null && !isDateTime(i.startDateTime))
    throw pimError('InvalidScheduleInfo', "'scheduleInfo.startDateTime' must be an ISO 8601 date-time.");
  const start = i.startDateTime ? Date.parse(i.startDateTime) : now;
  const type = (e.type ?? 'NoExpiration') as string;
  let end: number | undefined;
  if (type === 'AfterDateTime') {
    if (!isDateTime(e.endDateTime))
      throw pimError('InvalidScheduleInfo', "'expiration.endDateTime' is required for AfterDateTime.");
    end = Date.parse(e.endDateTime);
  } else if (type === 'AfterDuration') {
    const ms = parseDuration(e.duration);
    if (ms === undefined)
      throw pimError('InvalidScheduleInfo', "'expiration.duration' must be an ISO 8601 duration such as PT8H.");
    end = start + ms;
  } else if (type !== 'NoExpiration') {
    throw pimError('InvalidScheduleInfo', `'expiration.type' must be AfterDuration, AfterDateTime or NoExpiration.`);
  }
  if (end !== undefined && end <= start)
    throw pimError('InvalidScheduleInfo', 'The end of the schedule must be after its start.');
  return {
    start,
    end,
    info: {
      startDateTime: new Date(start).toISOString(),
      expiration: {
        type,
        endDateTime: type === 'AfterDateTime' ? new Date(end!).toISOString() : null,
        duration: type === 'AfterDuration' ? String(e.duration) : null,
      },
    },
  };
}

/** The policy's ExpirationRule: an end is required and no longer than the role's maximum active duration. */
export function checkExpirationRule(ctx: AssignmentCtx, roleGuid: string, s: { start: number; end?: number }) {
  const settings = ctx.authz.settings();
  const max = settings.maxActiveMs.roles[roleGuid] ?? settings.maxActiveMs.default;
  if (s.end === undefined || s.end - s.start > max)
    throw pimError(
      'RoleAssignmentRequestPolicyValidationFailed',
      'The following policy rules failed: ["ExpirationRule"]',
    );
}
