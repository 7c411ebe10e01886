import { TASK_FIELDS, f, intChoice, ref, type StateModel, type TableDef } from './fields.ts';

/**
 * The ticket tables, all extending `task`: their own columns, number prefixes and state models
 * (fact sheet §1.4, §1.7).
 */

const INCIDENT_STATES: StateModel = {
  inactive: ['7', '8'],
  resolved: ['6'],
  closed: ['7'],
  canceled: ['8'],
  closeOutStates: ['6', '7'],
  closeOutFields: [
    { field: 'close_code', label: 'Resolution code' },
    { field: 'close_notes', label: 'Resolution notes' },
  ],
  lockedStates: ['7', '8'],
  defaultState: '1',
};

const CHANGE_STATES: StateModel = {
  inactive: ['3', '4'],
  resolved: [],
  closed: ['3'],
  canceled: ['4'],
  closeOutStates: ['3'],
  closeOutFields: [
    { field: 'close_code', label: 'Close code' },
    { field: 'close_notes', label: 'Close notes' },
  ],
  lockedStates: [],
  defaultState: '-5',
};

const PROBLEM_STATES: StateModel = {
  inactive: ['107'],
  resolved: ['106'],
  closed: ['107'],
  canceled: [],
  closeOutStates: [],
  closeOutFields: [],
  lockedStates: [],
  defaultState: '101',
};

/**
 * The three columns Microsoft's ticketed-provisioning tutorial has the admin add to the request
 * tables (custom `u_` columns; a base instance has none of them), filled by Ticketloop's field templates.
 */
const ENTITLEMENT_TUTORIAL_COLUMNS = {
  u_accesspackageassignmentrequestid: f('string', 'AccessPackageAssignmentRequestId', { maxLength: 40 }),
  u_accesspackageassignmentstage: f('string', 'AccessPackageAssignmentStage', { maxLength: 40 }),
  u_stageinstanceid: f('string', 'StageInstanceId', { maxLength: 40 }),
};

/**
 * sc_request / sc_req_item / sc_task use the standard task states of the base `task` table:
 * 1 Open, 2 Work in Progress, 3 Closed Complete, 4 Closed Incomplete, 7 Closed Skipped
 * (-5 Pending exists on real instances; not modelled). No close code, so no data policy.
 */
const TASK_STATES: StateModel = {
  inactive: ['3', '4', '7'],
  resolved: [],
  closed: ['3', '4', '7'],
  canceled: ['4'],
  closeOutStates: [],
  closeOutFields: [],
  lockedStates: [],
  defaultState: '1',
};

export const TASK_TABLE_DEFS: Record<string, TableDef> = {
  incident: {
    name: 'incident',
    label: 'Incident',
    prefix: 'INC',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: INCIDENT_STATES,
    fields: {
      ...TASK_FIELDS,
      caller_id: ref('sys_user', 'Caller'),
      category: f('choice', 'Category'),
      subcategory: f('string', 'Subcategory'),
      incident_state: intChoice('Incident state', { readOnly: true }),
      hold_reason: intChoice('On hold reason'),
      reopen_count: f('integer', 'Reopen count', { readOnly: true }),
      problem_id: ref('problem', 'Problem'),
      parent_incident: ref('incident', 'Parent Incident'),
      rfc: ref('change_request', 'Change Request'),
    },
  },
  change_request: {
    name: 'change_request',
    label: 'Change Request',
    prefix: 'CHG',
    counterStart: 30001,
    displayField: 'number',
    isTask: true,
    states: CHANGE_STATES,
    fields: {
      ...TASK_FIELDS,
      type: f('choice', 'Type'),
      risk: intChoice('Risk'),
      category: f('string', 'Category'),
      requested_by: ref('sys_user', 'Requested by'),
      start_date: f('datetime', 'Planned start date'),
      end_date: f('datetime', 'Planned end date'),
    },
  },
  problem: {
    name: 'problem',
    label: 'Problem',
    prefix: 'PRB',
    counterStart: 40001,
    displayField: 'number',
    isTask: true,
    states: PROBLEM_STATES,
    fields: {
      ...TASK_FIELDS,
      problem_statement: f('string', 'Problem statement', { maxLength: 4000 }),
      resolution_code: f('choice', 'Resolution code'),
      cause_notes: f('string', 'Cause notes', { maxLength: 4000 }),
      fix_notes: f('string', 'Fix notes', { maxLength: 4000 }),
      known_error: f('boolean', 'Known error'),
    },
  },
  sc_request: {
    name: 'sc_request',
    label: 'Request',
    prefix: 'REQ',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: TASK_STATES,
    fields: {
      ...TASK_FIELDS,
      requested_for: ref('sys_user', 'Requested for'),
      request_state: f('choice', 'Request state'),
      stage: f('choice', 'Stage'),
    },
  },
  sc_req_item: {
    name: 'sc_req_item',
    label: 'Requested Item',
    prefix: 'RITM',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: TASK_STATES,
    fields: {
      ...TASK_FIELDS,
      request: ref('sc_request', 'Request'),
      requested_for: ref('sys_user', 'Requested for'),
      cat_item: ref('sc_cat_item', 'Item'),
      quantity: f('integer', 'Quantity'),
      // Set by workflow stages (fact sheet §1.7), hence its own internal type.
      stage: f('choice', 'Stage', { internalType: 'workflow' }),
      ...ENTITLEMENT_TUTORIAL_COLUMNS,
    },
  },
  sc_task: {
    name: 'sc_task',
    label: 'Catalog Task',
    prefix: 'SCTASK',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: TASK_STATES,
    fields: {
      ...TASK_FIELDS,
      request: ref('sc_request', 'Request'),
      request_item: ref('sc_req_item', 'Request item'),
      requested_for: ref('sys_user', 'Requested for'),
      ...ENTITLEMENT_TUTORIAL_COLUMNS,
    },
  },
};
