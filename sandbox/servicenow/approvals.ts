import type { Operation, Records } from './records.ts';
import type { Row, TableStore } from './store.ts';

/**
 * Approvals (`sysapproval_approver`, pod-wire-format.md §6): one row per approver of a task, its
 * `state` one of requested / approved / rejected / not_required (No Longer Required) / cancelled.
 * Whenever a row changes, the task it approves (`sysapproval`) gets the roll-up in its `approval`
 * field, as the approval engine does (SNDocs approvals/c_ApprovalStatus.md): any rejection →
 * rejected; all approved → approved; none requested → not requested; else requested. Rows that are
 * no longer required, cancelled or skipped do not count.
 */

const COUNTED = new Set(['requested', 'approved', 'rejected']);

/** The roll-up of a task's approval rows. */
export function rollUp(states: string[]): string {
  const counted = states.filter((s) => COUNTED.has(s));
  if (counted.includes('rejected')) return 'rejected';
  if (counted.length === 0) return states.length && states.every((s) => s === 'not_required') ? '' : 'not requested';
  if (counted.every((s) => s === 'approved')) return 'approved';
  return 'requested';
}

export class ApprovalRollUp {
  constructor(
    private readonly store: TableStore,
    private readonly records: () => Records,
  ) {}

  /** Change listener (Records.listeners). */
  readonly onChange = (table: string, _op: Operation, row: Row): void => {
    if (table !== 'sysapproval_approver' || !row.sysapproval) return;
    const task = this.store.get('task', row.sysapproval);
    if (!task) return;
    const states = this.store
      .rows('sysapproval_approver')
      .filter((r) => r.sysapproval === task.sys_id)
      .map((r) => r.state);
    const approval = rollUp(states);
    // Every remaining row no longer required leaves the outcome that made them so in place.
    if (approval === '' || task.approval === approval) return;
    // The engine writes in the approver's transaction: the task is updated by whoever decided.
    const actor = { userName: row.sys_updated_by || 'system', sysId: '', roles: ['admin'] };
    this.records().update(task.sys_class_name, task.sys_id, { approval }, actor);
  };
}
