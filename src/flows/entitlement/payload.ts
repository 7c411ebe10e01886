import { z } from 'zod';
import { resumePath } from './graph-em.ts';
import { DAY_MS } from '../../engine/clock.ts';
import { boundText } from '../../itsm/port.ts';
import { ALL_STAGES, REQUEST_STAGES, type CalloutStage, type RequestStage } from './config.ts';

/**
 * The callout body Entra POSTs (wire-format §2.3): flat PascalCase from Entra and the Logic App
 * samples, camelCase in Graph's `accessPackageAssignmentRequestCalloutData`. Both are accepted:
 * keys are normalised to camelCase, then validated; errors name the field as the sender spelled it.
 */

export const CONNECTION_TEST = 'customExtensionConnectionTest' as const;
export const MAX_TIMEOUT_MS = 14 * DAY_MS;

const GUID = /^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/;
const guid = z.string({ error: 'must be a GUID string' }).regex(GUID, 'must be a GUID');
const text = z.string().max(4000).nullish();
const named = z.object({ id: text, displayName: text, description: text }).loose().nullish();

const calloutSchema = z
  .object({
    customExtensionStageInstanceId: guid,
    stage: z.string({ error: 'required (a stage name)' }).min(1).max(100),
    accessPackageAssignmentRequestId: guid.nullish(),
    callbackUriPath: z.string().max(500).nullish(),
    requestType: text,
    state: text,
    status: text,
    answers: z
      .array(
        z.object({ answeredQuestion: z.object({ textString: text }).loose().nullish(), value: z.unknown() }).loose(),
      )
      .max(200)
      .nullish(),
    callbackConfiguration: z.object({ durationBeforeTimeout: text, timeoutDuration: text }).loose().nullish(),
    accessPackage: named,
    accessPackageCatalog: named,
    assignment: z
      .object({
        id: text,
        state: text,
        status: text,
        assignmentPolicy: named,
        target: z
          .object({ id: text, objectId: text, displayName: text, email: text, principalName: text })
          .loose()
          .nullish(),
      })
      .loose()
      .nullish(),
    requestor: z.object({ id: text, objectId: text, displayName: text }).loose().nullish(),
  })
  .loose();

type Raw = z.infer<typeof calloutSchema>;

/** A validated callout: the fields the flow needs, plus the whole normalised body for templates. */
export interface Callout {
  stageInstanceId: string;
  stage: CalloutStage | typeof CONNECTION_TEST;
  requestId?: string;
  callbackUriPath?: string;
  accessPackageId?: string;
  catalogId?: string;
  /** How long Entra waits for the resume (capped at 14 days). */
  timeoutMs: number;
  body: Raw;
}

export class CalloutInvalid extends Error {
  constructor(readonly details: { path: string; message: string }[]) {
    super(details.map((d) => `${d.path}: ${d.message}`).join('; '));
  }
}

const STAGE_BY_LOWER = new Map<string, CalloutStage | typeof CONNECTION_TEST>(
  [...ALL_STAGES, CONNECTION_TEST].map((s) => [s.toLowerCase(), s as CalloutStage]),
);

export function isRequestStage(s: string): s is RequestStage {
  return (REQUEST_STAGES as readonly string[]).includes(s);
}

const lowerFirst = (k: string) => (k && !k.startsWith('@') ? k[0].toLowerCase() + k.slice(1) : k);

/** Keys camelCased at every depth (`AccessPackage.DisplayName` → `accessPackage.displayName`). */
export function camelKeys(v: unknown, depth = 0): unknown {
  if (depth > 16 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => camelKeys(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[lowerFirst(k)] = camelKeys(x, depth + 1);
  return out;
}

/** ISO 8601 duration (PnW, PnDTnHnMnS; years/months approximated) → ms, or undefined if malformed. */
export function parseIsoDuration(s: string): number | undefined {
  const m =
    /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(
      s.trim(),
    );
  if (!m || s.trim() === 'P' || /T$/i.test(s.trim())) return undefined;
  const [y, mo, w, d, h, mi, sec] = m.slice(1).map((x) => (x ? Number(x) : 0));
  return Math.round((((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60_000 + sec * 1000);
}

/**
 * Validate a callout body (either casing). Throws CalloutInvalid with paths like
 * `body.CustomExtensionStageInstanceId` (PascalCase when the sender used PascalCase).
 */
export function parseCallout(input: unknown): Callout {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new CalloutInvalid([{ path: 'body', message: 'must be a JSON object' }]);
  const pascal = Object.keys(input).some((k) => /^[A-Z]/.test(k));
  const name = (path: readonly PropertyKey[]) =>
    [
      'body',
      ...path.map((p) =>
        typeof p === 'number' ? `[${p}]` : pascal ? String(p)[0].toUpperCase() + String(p).slice(1) : String(p),
      ),
    ]
      .join('.')
      .replace(/\.\[/g, '[');
  const r = calloutSchema.safeParse(camelKeys(input));
  if (!r.success) throw new CalloutInvalid(r.error.issues.map((i) => ({ path: name(i.path), message: i.message })));
  const b = r.data;
  const stage = STAGE_BY_LOWER.get(b.stage.toLowerCase());
  if (!stage)
    throw new CalloutInvalid([
      {
        path: name(['stage']),
        message: `unknown stage '${b.stage.slice(0, 100)}' (expected one of ${[...ALL_STAGES, 'CustomExtensionConnectionTest'].join(', ')})`,
      },
    ]);

  const problems: { path: string; message: string }[] = [];
  const requestId = b.accessPackageAssignmentRequestId ?? undefined;
  const callbackUriPath = b.callbackUriPath ?? undefined;
  if (isRequestStage(stage)) {
    // Launch-and-wait: without these the request can never be resumed.
    if (!requestId)
      problems.push({ path: name(['accessPackageAssignmentRequestId']), message: `required for stage ${stage}` });
    if (!callbackUriPath) problems.push({ path: name(['callbackUriPath']), message: `required for stage ${stage}` });
  }
  if (requestId && callbackUriPath) {
    try {
      resumePath(requestId, 'v1.0', callbackUriPath);
    } catch (e) {
      problems.push({ path: name(['callbackUriPath']), message: (e as Error).message });
    }
  }
  const durationText = b.callbackConfiguration?.durationBeforeTimeout ?? b.callbackConfiguration?.timeoutDuration;
  let timeoutMs = MAX_TIMEOUT_MS;
  if (durationText) {
    const ms = parseIsoDuration(durationText);
    const field = b.callbackConfiguration?.durationBeforeTimeout ? 'durationBeforeTimeout' : 'timeoutDuration';
    if (ms === undefined || ms <= 0)
      problems.push({
        path: name(['callbackConfiguration', field]),
        message: `'${durationText.slice(0, 50)}' is not an ISO 8601 duration`,
      });
    else timeoutMs = Math.min(ms, MAX_TIMEOUT_MS);
  }
  if (problems.length) throw new CalloutInvalid(problems);
  return {
    stageInstanceId: b.customExtensionStageInstanceId.toLowerCase(),
    stage,
    requestId,
    callbackUriPath,
    accessPackageId: b.accessPackage?.id ?? undefined,
    catalogId: b.accessPackageCatalog?.id ?? undefined,
    timeoutMs,
    body: b,
  };
}

// ---- ticket content --------------------------------------------------------------------------

export const STAGE_LABEL: Record<string, string> = {
  assignmentRequestCreated: 'request created',
  assignmentRequestApproved: 'request approved',
  assignmentRequestGranted: 'access granted',
  assignmentRequestRemoved: 'assignment removed',
  assignmentFourteenDaysBeforeExpiration: 'expires in 14 days',
  assignmentOneDayBeforeExpiration: 'expires in 1 day',
};

export const DEFAULT_FIELDS: Record<string, string> = {
  short_description: 'Access request: {{AccessPackage.DisplayName}} for {{Assignment.Target.DisplayName}}',
  description: [
    '{{Requestor.DisplayName}} requested access package "{{AccessPackage.DisplayName}}" (catalog "{{AccessPackageCatalog.DisplayName}}")',
    'for {{Assignment.Target.DisplayName}} <{{Assignment.Target.Email}}>. Request type: {{RequestType}}; policy: {{Assignment.AssignmentPolicy.DisplayName}}.',
    '{{AnswersText}}',
    'Grant the access, then resolve or close this ticket: Ticketloop continues the request in Entra. Cancel the ticket to deny the request.',
  ].join('\n'),
};

export const DEFAULT_REMOVAL_FIELDS: Record<string, string> = {
  short_description:
    'Remove access: {{AccessPackage.DisplayName}} from {{Assignment.Target.DisplayName}} ({{RemovalCause}})',
  description: [
    'The assignment of access package "{{AccessPackage.DisplayName}}" (catalog "{{AccessPackageCatalog.DisplayName}}") to',
    '{{Assignment.Target.DisplayName}} <{{Assignment.Target.Email}}> {{RemovalCause}}; it is being removed (request type {{RequestType}}).',
    'Remove the access in the target system, then resolve or close this ticket: Ticketloop then lets Entra finish the removal.',
  ].join('\n'),
};

const FIELD_MAX: Record<string, number> = { short_description: 160, description: 4000 };

function lookup(root: unknown, segments: string[]): unknown {
  let v: unknown = root;
  for (const seg of segments) {
    if (v === null || typeof v !== 'object') return undefined;
    const obj = v as Record<string, unknown>;
    const key = lowerFirst(seg);
    v = Object.hasOwn(obj, key)
      ? obj[key]
      : obj[Object.keys(obj).find((k) => k.toLowerCase() === seg.toLowerCase()) ?? ''];
  }
  return v;
}

type Compiled = (string | string[])[];
const compiled = new Map<string, Compiled>();

/** A template split once into literal text and placeholder paths (templates come from config: few, reused). */
function compile(template: string): Compiled {
  let c = compiled.get(template);
  if (!c) {
    c = template.split(/\{\{\s*([A-Za-z0-9_.@]+)\s*\}\}/g).map((part, i) => (i % 2 ? part.split('.') : part));
    if (compiled.size < 1000) compiled.set(template, c);
  }
  return c;
}

const utcMinute = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * Why an assignment is being removed, for `{{RemovalCause}}`: Entra removes an expired assignment
 * itself (requestType systemRemove) — "expired on <its expiredDateTime, or when the callout came>";
 * any other removal was asked for — "removed by <requestor>". Empty at other stages.
 */
export function removalCause(c: Callout, now: number): string {
  if (c.stage !== 'assignmentRequestRemoved') return '';
  if ((c.body.requestType ?? '').toLowerCase() === 'systemremove') {
    const at = Date.parse(String((c.body.assignment as { expiredDateTime?: unknown } | null)?.expiredDateTime ?? ''));
    return `expired on ${utcMinute(Number.isNaN(at) ? now : at)}`;
  }
  return `removed by ${c.body.requestor?.displayName || 'an administrator'}`;
}

/** `{{Path.To.Field}}` → the callout's value (case-insensitive path); unknown or non-scalar → empty. */
export function renderTemplate(template: string, c: Callout, now = 0): string {
  let out = '';
  for (const part of compile(template)) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const name = part.length === 1 ? lowerFirst(part[0]) : '';
    const v =
      name === 'answersText'
        ? (c.body.answers ?? [])
            .map(
              (a) =>
                `${a.answeredQuestion?.textString ?? 'Question'}: ${typeof a.value === 'string' ? a.value : JSON.stringify(a.value ?? '')}`,
            )
            .join('\n')
        : name === 'stageLabel'
          ? (STAGE_LABEL[c.stage] ?? c.stage)
          : name === 'removalCause'
            ? removalCause(c, now)
            : name === 'stage'
              ? c.stage
              : lookup(c.body, part);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out += String(v);
  }
  return out;
}

/**
 * The ticket for a callout: rendered templates, and — whatever the templates say — the request id,
 * stage and stage instance id in the description and in correlation_display.
 */
export function ticketContent(
  c: Callout,
  fields: Record<string, string>,
  removalFields: Record<string, string>,
  now = 0,
): { fields: Record<string, string>; correlationDisplay: string } {
  const removal = c.stage === 'assignmentRequestRemoved';
  const templates = removal
    ? { ...DEFAULT_REMOVAL_FIELDS, ...fields, ...removalFields }
    : { ...DEFAULT_FIELDS, ...fields };
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(templates)) {
    const v = renderTemplate(t, c, now)
      .replace(/\n{3,}/g, '\n\n')
      .trim();
    out[k] = FIELD_MAX[k] ? boundText(v, FIELD_MAX[k]) : v;
  }
  const trailer = [
    '',
    '--- Entra entitlement management (do not edit) ---',
    `AccessPackageAssignmentRequestId: ${c.requestId ?? '(none)'}`,
    `Stage: ${c.stage}`,
    `StageInstanceId: ${c.stageInstanceId}`,
  ].join('\n');
  // Bounded here (not only by the adapter) so the ids below always survive the cut.
  out.description = `${boundText(out.description ?? '', 4000 - trailer.length)}${trailer}`;
  const short = c.stage.replace(/^assignment(Request)?/, '').toLowerCase();
  return { fields: out, correlationDisplay: `EM ${short} ${c.requestId ?? '-'} ${c.stageInstanceId}`.slice(0, 100) };
}
