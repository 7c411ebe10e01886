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
  email: string;
  message: string;
}

export interface MappedPeople {
  assignee?: Person;
  caller?: Person;
  problems: PersonProblem[];
}

const ROLE: Record<PersonField, string> = { 'mapping.assignedTo': 'owner', 'mapping.caller': 'caller' };

function problem(i: DefenderIntegration, field: PersonField, email: string): PersonProblem {
  return {
    field,
    email,
    message: `${field}: no person with the e-mail ${email} in ITSM ${i.itsm}, so the ${ROLE[field]} of the tickets of "${i.name}" is unknown`,
  };
}

/** Look both up (the adapter caches people); a failed look-up (ITSM down) throws, as any other call. */
export async function resolvePeople(port: ItsmPort, i: DefenderIntegration): Promise<MappedPeople> {
  const out: MappedPeople = { problems: [] };
  const wanted: [PersonField, string | undefined, 'assignee' | 'caller'][] = [
    ['mapping.assignedTo', i.mapping.assignedTo, 'assignee'],
    ['mapping.caller', i.mapping.caller, 'caller'],
  ];
  for (const [field, email, slot] of wanted) {
    if (!email) continue;
    const person = await port.findPerson(email);
    if (person) out[slot] = person;
    else out.problems.push(problem(i, field, email));
  }
  return out;
}

/** Doctor / "Test the connection": one result per configured person. */
export async function peopleChecks(port: ItsmPort, i: DefenderIntegration): Promise<CheckResult[]> {
  const target = `defender ${i.name}`;
  const configured = [
    ['mapping.assignedTo', i.mapping.assignedTo],
    ['mapping.caller', i.mapping.caller],
  ] as const;
  if (!configured.some(([, email]) => email)) return [];
  let people: MappedPeople;
  try {
    people = await resolvePeople(port, i);
  } catch (e) {
    const detail = `could not look people up in ITSM ${i.itsm}: ${(e as Error).message.split('\n')[0].slice(0, 200)}`;
    return [{ target, check: 'people', ok: false, detail }];
  }
  return configured
    .filter(([, email]) => email)
    .map(([field, email]): CheckResult => {
      const p = people.problems.find((x) => x.field === field);
      return p
        ? {
            target,
            check: ROLE[field],
            ok: false,
            detail: p.message,
            fix: `create the user ${p.email} in ITSM ${i.itsm} (its e-mail field), or set ${field} to a known person`,
          }
        : { target, check: ROLE[field], ok: true, detail: `${field} ${email} is a person in ITSM ${i.itsm}` };
    });
}
