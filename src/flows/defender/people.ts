import type { CheckResult } from '../../app/checks.ts';
import type { ItsmPort, Person } from '../../itsm/port.ts';
import type { DefenderIntegration } from './config.ts';

/**
 * The people a Defender ticket names — its owner (`mapping.assignedTo`, also the governance
 * assignment's owner) and its caller — resolved through the ITSM's people look-up. Both are
 * mandatory in Defender's ticket mapping, so an e-mail the ITSM does not know is an error of the
 * integration (reconcile stops, its status and doctor say which field and e-mail), never a ticket
 * quietly left without its owner or caller.
 */

export type PersonField = 'mapping.assignedTo' | 'mapping.caller';

export interface PersonProblem {
  field: PersonField;
  /** The configured e-mail; null when the field is not set at all. */
  email: string | null;
  message: string;
  /** What to do about it, in a sentence. */
  fix: string;
}

export interface MappedPeople {
  assignee?: Person;
  caller?: Person;
  problems: PersonProblem[];
}

const ROLE: Record<PersonField, string> = { 'mapping.assignedTo': 'owner', 'mapping.caller': 'caller' };

function unknownPerson(i: DefenderIntegration, field: PersonField, email: string): PersonProblem {
  return {
    field,
    email,
    message: `${field}: no person with the e-mail ${email} in ITSM ${i.itsm}, so the ${ROLE[field]} of the tickets of "${i.name}" is unknown`,
    fix: `create the user ${email} in ITSM ${i.itsm} (its e-mail field), or set ${field} to a known person`,
  };
}

/**
 * The schema keeps both optional, so a file written before they were required still loads (and its
 * integration shows what to fix) instead of the whole configuration being refused.
 */
function notSet(i: DefenderIntegration, field: PersonField): PersonProblem {
  return {
    field,
    email: null,
    message: `${field}: not set; Defender's ticket mapping requires the ${ROLE[field]} of the tickets of "${i.name}"`,
    fix: `set ${field} to the e-mail of a person in ITSM ${i.itsm}`,
  };
}

/** People the configuration leaves out: known without asking the ITSM. */
export function missingPeople(i: DefenderIntegration): PersonProblem[] {
  const fields: [PersonField, string | undefined][] = [
    ['mapping.assignedTo', i.mapping.assignedTo],
    ['mapping.caller', i.mapping.caller],
  ];
  return fields.filter(([, email]) => !email).map(([field]) => notSet(i, field));
}

/** Look both up (the adapter caches people); a failed look-up (ITSM down) throws, as any other call. */
export async function resolvePeople(port: ItsmPort, i: DefenderIntegration): Promise<MappedPeople> {
  const out: MappedPeople = { problems: missingPeople(i) };
  const wanted: [PersonField, string | undefined, 'assignee' | 'caller'][] = [
    ['mapping.assignedTo', i.mapping.assignedTo, 'assignee'],
    ['mapping.caller', i.mapping.caller, 'caller'],
  ];
  for (const [field, email, slot] of wanted) {
    if (!email) continue;
    const person = await port.findPerson(email);
    if (person) out[slot] = person;
    else out.problems.push(unknownPerson(i, field, email));
  }
  return out;
}

/** Doctor / "Test the connection": one result per mapping person (owner, caller), set or not. */
export async function peopleChecks(port: ItsmPort, i: DefenderIntegration): Promise<CheckResult[]> {
  const target = `defender ${i.name}`;
  const fields = ['mapping.assignedTo', 'mapping.caller'] as const;
  let people: MappedPeople;
  try {
    people = await resolvePeople(port, i);
  } catch (e) {
    const detail = `could not look people up in ITSM ${i.itsm}: ${(e as Error).message.split('\n')[0].slice(0, 200)}`;
    return [
      ...missingPeople(i).map((p): CheckResult => ({
        target,
        check: ROLE[p.field],
        ok: false,
        detail: p.message,
        fix: p.fix,
      })),
      { target, check: 'people', ok: false, detail },
    ];
  }
  return fields.map((field): CheckResult => {
    const p = people.problems.find((x) => x.field === field);
    if (p) return { target, check: ROLE[field], ok: false, detail: p.message, fix: p.fix };
    const email = field === 'mapping.assignedTo' ? i.mapping.assignedTo : i.mapping.caller;
    return { target, check: ROLE[field], ok: true, detail: `${field} ${email} is a person in ITSM ${i.itsm}` };
  });
}
