import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SnContext } from './routes.ts';
import { SnError, type Actor } from './records.ts';

/**
 * The Service Catalog API's order call (wire-format.md §1.7; SNDocs rest-apis/c_ServiceCatalogAPI.md):
 * `POST /api/sn_sc/servicecatalog/items/{sc_cat_item sys_id}/order_now` with
 * `{"sysparm_quantity": 1, "sysparm_requested_for": "<sys_user sys_id>", "variables": {…}}` makes a
 * request (`sc_request`, REQ…) and its requested item (`sc_req_item`, RITM…), and stores each of the
 * item's variables as an `sc_item_option` tied to the RITM by `sc_item_option_mtom`. The answer is
 * 200 `{"result":{"sys_id","number","request_number","request_id","table":"sc_request"}}`.
 *
 * Where the documentation is silent the sandbox chooses: variables the item does not define are
 * ignored, mandatory variables are not enforced (the portal's form does that), an unknown or
 * inactive item is 404 "No Record found", and a quantity that is not a positive integer is 400.
 * The order is placed on the caller's behalf: any user with a role may order; the records carry the
 * caller as `opened_by` and `sys_created_by`.
 */

export function registerCatalogApi(app: FastifyInstance, ctx: SnContext): void {
  const order = async (req: FastifyRequest) => {
    if (!req.headers.accept) throw new SnError(400, 'Bad Request', 'Accept header is required');
    const ct = req.headers['content-type'];
    if (!ct || !/^application\/json/i.test(ct))
      throw new SnError(400, 'Bad Request', 'Content-Type header is required (application/json)');
    const caller = ctx.auth.authenticate(req);
    if (caller.roles.length === 0) throw new SnError(403, 'User Not Authorized', 'Failed API level ACL Validation');
    const item = ctx.store.get('sc_cat_item', (req.params as { sys_id: string }).sys_id);
    if (!item || item.active === 'false') throw notFound();
    const body = (req.body ?? {}) as {
      sysparm_quantity?: unknown;
      sysparm_requested_for?: unknown;
      variables?: unknown;
    };
    const quantity = Number(body.sysparm_quantity ?? 1);
    if (!Number.isInteger(quantity) || quantity < 1)
      throw new SnError(400, 'Invalid quantity', 'sysparm_quantity must be a positive integer');
    const requestedFor = typeof body.sysparm_requested_for === 'string' ? body.sysparm_requested_for : caller.sysId;
    if (!ctx.store.get('sys_user', requestedFor))
      throw new SnError(400, 'Invalid requested for', `No user with sys_id ${requestedFor}`);
    const answers =
      body.variables && typeof body.variables === 'object' ? (body.variables as Record<string, unknown>) : {};

    // The platform writes the records, so the caller's table ACLs do not apply to them.
    const actor: Actor = { ...caller, roles: [...caller.roles, 'admin'] };
    const common = { requested_for: requestedFor, opened_by: caller.sysId, approval: 'not requested', state: '1' };
    const request = ctx.records.insert(
      'sc_request',
      { ...common, short_description: item.name, request_state: 'submitted', stage: 'waiting_for_approval' },
      actor,
    );
    const ritm = ctx.records.insert(
      'sc_req_item',
      {
        ...common,
        request: request.sys_id,
        cat_item: item.sys_id,
        quantity: String(quantity),
        short_description: item.name,
        stage: 'waiting_for_approval',
      },
      actor,
    );
    const variables = ctx.store
      .rows('item_option_new')
      .filter((v) => v.cat_item === item.sys_id && v.active !== 'false')
      .sort((a, b) => Number(a.order || 0) - Number(b.order || 0));
    for (const v of variables) {
      const given = answers[v.name];
      const value = given === undefined || given === null ? v.default_value : String(given);
      const option = ctx.records.insert('sc_item_option', { item_option_new: v.sys_id, value, order: v.order }, actor);
      ctx.records.insert('sc_item_option_mtom', { request_item: ritm.sys_id, sc_item_option: option.sys_id }, actor);
    }
    return {
      result: {
        sys_id: request.sys_id,
        number: request.number,
        request_number: request.number,
        request_id: request.sys_id,
        table: 'sc_request',
      },
    };
  };
  for (const prefix of ['/api/sn_sc/servicecatalog', '/api/sn_sc/v1/servicecatalog'])
    app.post(`${prefix}/items/:sys_id/order_now`, order);
}

const notFound = () =>
  new SnError(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
