import { HttpError } from '../../src/engine/errors.ts';
import type {
  ActualAssignment,
  AssignmentTarget,
  AuthorizationProvider,
  GrantInput,
  Operation,
  RevokeInput,
} from '../../src/flows/pod/providers/port.ts';

/**
 * An in-memory cloud for the broker's own tests (the real providers are tested against the sandbox
 * twins): assignments keyed by target, pre-existing access, failures on demand, and a count of writes.
 */

const keyOf = (t: AssignmentTarget) => `${t.principal.type}|${t.principal.id}|${t.permission}|${t.scope}`.toLowerCase();

export class FakeProvider implements AuthorizationProvider {
  readonly type = 'fake';
  readonly revokeCaveat = 'Sessions already issued keep working until their tokens expire (up to ~10 minutes).';
  readonly propagationSeconds = 600;
  readonly expiresNatively = false;
  readonly assigned = new Map<string, { target: AssignmentTarget; ref: string; byKey?: string }>();
  readonly calls = { grant: 0, revoke: 0, read: 0 };
  /** Fail the next n revokes / grants with this status. */
  failRevokes = { times: 0, status: 503 };
  failGrants = { times: 0, status: 503 };

  /** Access that exists before Ticketloop (not made by any grant key). */
  preassign(t: AssignmentTarget): void {
    this.assigned.set(keyOf(t), { target: t, ref: `pre-${this.assigned.size + 1}` });
  }

  has(t: AssignmentTarget): boolean {
    return this.assigned.has(keyOf(t));
  }

  async resolvePermission(nameOrId: string) {
    return { id: nameOrId === 'Reader' ? 'acdd72a7-3385-48ef-bd42-f606fba81ae7' : nameOrId, name: nameOrId };
  }

  async grant(i: GrantInput): Promise<Operation> {
    this.calls.grant++;
    if (this.failGrants.times > 0) {
      this.failGrants.times--;
      throw new HttpError('fake', 'PUT', '/grant', this.failGrants.status, { error: { code: 'Boom' } }, {});
    }
    const existing = this.assigned.get(keyOf(i));
    if (existing)
      return existing.byKey === i.key
        ? { state: 'done', ref: existing.ref }
        : { state: 'done', preexisting: true, ref: existing.ref };
    const ref = `ra-${i.key}`;
    this.assigned.set(keyOf(i), {
      target: { principal: i.principal, permission: i.permission, scope: i.scope },
      ref,
      byKey: i.key,
    });
    return { state: 'done', ref };
  }

  async revoke(i: RevokeInput): Promise<Operation> {
    this.calls.revoke++;
    if (this.failRevokes.times > 0) {
      this.failRevokes.times--;
      throw new HttpError('fake', 'DELETE', '/revoke', this.failRevokes.status, { error: { code: 'Boom' } }, {});
    }
    this.assigned.delete(keyOf(i));
    return { state: 'done' };
  }

  async status(): Promise<Operation> {
    return { state: 'done' };
  }

  async read(t: AssignmentTarget): Promise<ActualAssignment | undefined> {
    this.calls.read++;
    const a = this.assigned.get(keyOf(t));
    return a ? { ...a.target, ref: a.ref, via: 'direct' } : undefined;
  }

  async *list(): AsyncIterable<ActualAssignment[]> {
    yield [...this.assigned.values()].map((a) => ({ ...a.target, ref: a.ref, via: 'direct' as const }));
  }
}
