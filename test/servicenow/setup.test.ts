import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SetupStep } from '../../src/app/checks.ts';
import { BUSINESS_RULE_SCRIPT } from '../../src/itsm/servicenow/business-rule.ts';
import { servicenowModule } from '../../src/itsm/servicenow/module.ts';
import { webhookPath } from '../../src/itsm/servicenow/webhook.ts';
import { startHarness, type Harness } from '../sandbox-servicenow/helpers.ts';
import { connection, deps, receiver, until } from './setup-helpers.ts';

/**
 * `ticketloop setup servicenow` (servicenowModule.setup) against an empty sandbox: what it
 * installs, that a second run changes nothing, that the installed rule really delivers signed
 * changes (also after a restart), and the manual steps without admin or in a dry run.
 */

const KINDS = ['incident', 'sc_task'];
const CLOSE_OUT = { incident: { resolve: { close_code: 'Solution provided' } } };
const ADMIN = { type: 'basic', username: 'admin', password: 'admin-password-1' };
const ITIL = { type: 'basic', username: 'it.support', password: 'itil-password-1' };

describe('ServiceNow setup', () => {
  let h: Harness;
  let secret = 'setup-secret-0123456789';
  let rx: Awaited<ReturnType<typeof receiver>>;
  before(async () => {
    h = await startHarness({ seedDemoData: false });
    rx = await receiver(() => secret);
  });
  after(async () => {
    rx.close();
    await h.close();
  });

  const run = async (auth: object, extra: Record<string, unknown> = {}, o: { dryRun?: boolean } = {}) => {
    const d = deps();
    const config = connection(h, { auth, closeOut: CLOSE_OUT, webhook: { type: 'hmac', secret }, ...extra });
    const steps = await servicenowModule.setup!(config, d, {
      kinds: KINDS,
      publicUrl: rx.base,
      ...o,
    });
    return { steps, writes: d.writes() };
  };
  const outcomes = (steps: SetupStep[]) => steps.map((s) => [s.what, s.outcome]);
  /** sys_mod_count of everything setup may write, to prove a run wrote nothing. */
  const snapshot = async () => {
    const auth = h.basic({ username: 'admin', password: 'admin-password-1' });
    const rows = [];
    for (const t of ['sys_properties', 'sys_script'])
      rows.push(
        ...(await h.call('GET', `/api/now/table/${t}?sysparm_fields=sys_id,sys_mod_count`, { auth })).json.result,
      );
    return rows;
  };
  const noSecret = (steps: SetupStep[]) =>
    assert.ok(!JSON.stringify(steps).includes(secret), 'the secret is never printed');

  it('without admin: manual steps with the exact instructions, nothing written', async () => {
    const { steps, writes } = await run(ITIL);
    assert.deepEqual(outcomes(steps), [
      ['verify sign-in', 'unchanged'],
      ['verify table incident', 'unchanged'],
      ['verify incident resolve close-out', 'unchanged'],
      ['verify incident close close-out', 'unchanged'],
      ['verify table sc_task', 'unchanged'],
      ['account roles', 'unchanged'],
      ['system property x_ticketloop.webhook_url', 'manual'],
      ['system property x_ticketloop.webhook_secret', 'manual'],
      ['business rule Ticketloop webhook (incident)', 'manual'],
      ['business rule Ticketloop webhook (sc_task)', 'manual'],
    ]);
    assert.equal(
      steps[5].detail,
      "user 'it.support' has the role itil: enough for tickets; without admin the business rule is installed by hand (the steps follow)",
    );
    const [url, sec, rule] = steps.slice(6).map((s) => s.detail!);
    assert.match(url, /is not admin, so setup cannot do it/);
    assert.match(
      url,
      new RegExp(
        `Create the system property x_ticketloop.webhook_url .*type string, value ${rx.base}/webhooks/servicenow/prod$`,
      ),
    );
    assert.match(
      sec,
      /type password2, value = the secret configured in servicenow\.prod\.webhook\.secret \(not shown here\)$/,
    );
    assert.match(
      rule,
      /Create the business rule "Ticketloop webhook \(incident\)" .*table incident, when after, Insert ✓ Update ✓ Delete ✓, Advanced ✓, Active ✓, condition current\.correlation_id\.startsWith\('tl:'\), script: the whole of docs\/servicenow-business-rule\.js$/,
    );
    noSecret(steps);
    assert.deepEqual(writes, []);
    assert.deepEqual(await snapshot(), []);
  });

  it('a dry run as admin reports what it would do, and writes nothing', async () => {
    const { steps, writes } = await run(ADMIN, {}, { dryRun: true });
    assert.deepEqual(
      steps.filter((s) => s.outcome === 'manual').map((s) => s.what),
      [
        'system property x_ticketloop.webhook_url',
        'system property x_ticketloop.webhook_secret',
        'business rule Ticketloop webhook (incident)',
        'business rule Ticketloop webhook (sc_task)',
      ],
    );
    assert.ok(steps.every((s) => s.outcome !== 'manual' || s.detail!.startsWith('dry run: nothing written. Create')));
    assert.deepEqual(writes, []);
  });

  it('installs the push as admin; a second run is all unchanged and writes nothing; the rule delivers signed changes', async () => {
    const first = await run(ADMIN);
    assert.deepEqual(outcomes(first.steps).slice(5), [
      ['account roles', 'unchanged'],
      ['system property x_ticketloop.webhook_url', 'created'],
      ['system property x_ticketloop.webhook_secret', 'created'],
      ['business rule Ticketloop webhook (incident)', 'created'],
      ['business rule Ticketloop webhook (sc_task)', 'created'],
    ]);
    assert.ok(
      first.steps.slice(0, 5).every((s) => s.outcome === 'unchanged'),
      JSON.stringify(first.steps),
    );
    assert.equal(first.writes.length, 4);
    noSecret(first.steps);

    const installed = await snapshot();
    const second = await run(ADMIN);
    assert.deepEqual(
      second.steps.filter((s) => s.outcome !== 'unchanged'),
      [],
    );
    assert.deepEqual(second.writes, [], 'nothing was written');
    assert.deepEqual(await snapshot(), installed);

    const auth = h.basic({ username: 'admin', password: 'admin-password-1' });
    const rule = (await h.call('GET', '/api/now/table/sys_script?sysparm_query=collection=incident', { auth })).json
      .result[0];
    assert.deepEqual(
      [rule.name, rule.when, rule.active, rule.action_delete, rule.condition, rule.script],
      [
        'Ticketloop webhook (incident)',
        'after',
        'true',
        'true',
        "current.correlation_id.startsWith('tl:')",
        BUSINESS_RULE_SCRIPT,
      ],
    );

    // The loop: an agent's change to a Ticketloop ticket reaches the receiver, signed.
    const other = (await h.call('POST', '/api/now/table/incident', { body: { short_description: 'not ours' } })).json
      .result;
    const inc = (
      await h.call('POST', '/api/now/table/incident', {
        body: { short_description: 'ours', correlation_id: 'tl:defender:1' },
      })
    ).json.result;
    await h.call('PATCH', `/api/now/table/incident/${inc.sys_id}`, { body: { work_notes: 'looking' } });
    const got = await until(() => {
      const mine = rx.got.filter((g) => JSON.parse(g.body).sys_id === inc.sys_id);
      return mine.length >= 2 ? mine : undefined;
    }, 'the insert and the update');
    assert.ok(
      got.every((g) => g.valid && g.path === webhookPath('prod')),
      JSON.stringify(got),
    );
    assert.deepEqual(got.map((g) => JSON.parse(g.body).operation).sort(), ['insert', 'update']);
    assert.ok(!rx.got.some((g) => JSON.parse(g.body).sys_id === other.sys_id), 'the condition keeps other tickets out');
  });

  it('the installed rule survives a sandbox restart; a new secret is written once', async () => {
    await h.restart();
    const again = await run(ADMIN);
    assert.deepEqual(
      again.steps.filter((s) => s.outcome !== 'unchanged'),
      [],
    );
    const task = (
      await h.call('POST', '/api/now/table/sc_task', {
        body: { short_description: 'grant', correlation_id: 'tl:em:1' },
      })
    ).json.result;
    const got = await until(
      () => rx.got.find((g) => JSON.parse(g.body).sys_id === task.sys_id),
      'the sc_task insert after the restart',
    );
    assert.equal(got.valid, true);

    // Rotating the secret: the stored one cannot be read back, its fingerprint tells it differs.
    secret = 'rotated-secret-9876543210';
    const rotated = await run(ADMIN);
    assert.deepEqual(
      rotated.steps.filter((s) => s.outcome !== 'unchanged').map((s) => [s.what, s.outcome]),
      [['system property x_ticketloop.webhook_secret', 'updated']],
    );
    noSecret(rotated.steps);
    assert.deepEqual(
      (await run(ADMIN)).steps.filter((s) => s.outcome !== 'unchanged'),
      [],
    );
    await h.call('PATCH', `/api/now/table/sc_task/${task.sys_id}`, { body: { short_description: 'granted' } });
    const signed = await until(
      () => rx.got.find((g) => JSON.parse(g.body).operation === 'update' && JSON.parse(g.body).sys_id === task.sys_id),
      'the update signed with the new secret',
    );
    assert.equal(signed.valid, true);
  });

  it('webhook without HMAC, or no webhook: explained, nothing written', async () => {
    const basicHook = await run(ADMIN, { webhook: { type: 'basic', username: 'sn', password: 'pw-1' } });
    const step = basicHook.steps.at(-1)!;
    assert.deepEqual([step.what, step.outcome], ['business-rule webhook', 'manual']);
    assert.match(step.detail!, /signs its calls with HMAC and sends no Basic credentials/);
    assert.deepEqual(basicHook.writes, []);
    const none = await run(ADMIN, { webhook: undefined });
    assert.deepEqual(
      [none.steps.at(-1)!.outcome, none.steps.at(-1)!.detail],
      [
        'unchanged',
        'not configured (servicenow.prod.webhook): changes are polled. To have them pushed, set webhook: { type: hmac, secret } and run setup again',
      ],
    );
  });

  it('client_credentials: the roles of the OAuth application user are read through gs.getUserID()', async () => {
    const { steps } = await run({
      type: 'oauth',
      clientId: 'ticketloop-client',
      clientSecret: 'ticketloop-client-secret-1',
    });
    const roles = steps.find((s) => s.what === 'account roles')!;
    assert.equal(roles.outcome, 'unchanged');
    assert.match(roles.detail!, /^user 'ticketloop\.integration' has the role itil: enough for tickets/);
    assert.ok(steps.filter((s) => s.what.startsWith('business rule')).every((s) => s.outcome === 'manual'));
  });

  it('a failed sign-in stops setup after the one finding', async () => {
    const { steps, writes } = await run({ ...ADMIN, password: 'wrong' });
    assert.deepEqual(steps, [
      {
        what: 'verify sign-in',
        outcome: 'failed',
        detail: "401 for user 'admin'; fix: check the password (and that user 'admin' is active and not locked out)",
      },
    ]);
    assert.deepEqual(writes, []);
  });
});
