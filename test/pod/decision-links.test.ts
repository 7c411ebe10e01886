import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { decisionLinks, LinkRefused, useDecisionLink } from '../../src/flows/pod/decision-links.ts';
import { until } from '../helpers/wait.ts';
import { FakeProvider } from './fake-provider.ts';
import { ALICE_OID, podIntegration, startPod, type PodHarness } from './harness.ts';

// Signed one-time approve / reject links in the "submitted" e-mail (issue #13 item 7: "Approve/reject
// links in the e-mail are signed one-time links that require sign-in"): each approver gets their own
// pair, bound to the request, to them and to the decision; a link works once, before its expiry, for
// the approver it was made for, signed in; a GET never decides (the console confirms, then POSTs).

const PASSWORD = 'correct horse battery staple';
const ANN = 'ann@contoso.example';
const BEN = 'ben@contoso.example';
const REX = 'rex@contoso.example';
const CONSOLE = 'https://ticketloop.contoso.example';

let h: PodHarness;
let sink: ChildProcess;
let sinkFile: string;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-links-'));
  sinkFile = join(dir, 'mail.jsonl');
  sink = spawn(process.execPath, [join(import.meta.dirname, '..', 'defender', 'smtp-sink.mjs'), sinkFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const { port } = JSON.parse(
    await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve)),
  ) as { port: number };
  h = await startPod(
    new FakeProvider(),
    podIntegration({
      policies: [{ name: 'standard', permissions: ['*'], approvers: { users: [ANN, BEN] }, quorum: 1 }],
      consoleUrl: CONSOLE,
      decisionLinksFor: 'PT4H',
      notifications: {
        smtp: { host: '127.0.0.1', port, starttls: 'off', from: 'Ticketloop <ticketloop@contoso.example>' },
      },
    }),
    { dataDir: join(dir, 'tl') },
  );
  for (const [name, roles] of [
    [ANN, ['approver']],
    [BEN, ['approver']],
    [REX, ['requester']],
  ] as const)
    await h.app.identity.users.create({ name, password: PASSWORD, roles: [...roles] }, 'test');
});
after(async () => {
  await h?.stop();
  sink?.kill();
});

/** A browser-like session: the cookie and the CSRF token of POST /api/auth/login. */
async function signIn(name: string) {
  const r = await fetch(`${h.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: PASSWORD }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const cookie = r.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const { csrfToken } = (await r.json()) as { csrfToken: string };
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        cookie,
        'x-csrf-token': csrfToken,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
}

const mails = (): any[] =>
  existsSync(sinkFile)
    ? readFileSync(sinkFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

/** The text part's links (quoted-printable undone), by title. */
function linksOf(mail: any): Record<string, string> {
  const text = String(mail.data)
    .replace(/=\r?\n/g, '')
    .replace(/=3D/g, '=');
  return Object.fromEntries(
    [...text.matchAll(/^(Approve|Reject|Review the request): (https:\/\/\S+)$/gm)].map((m) => [m[1], m[2]]),
  );
}

async function submit(): Promise<string> {
  const rex = await signIn(REX);
  const r = await rex('POST', '/api/pod/requests', {
    system: 'azure-prod',
    permission: 'prod-contributor',
    identity: { type: 'user', id: ALICE_OID },
    justification: 'deploy the hotfix',
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id;
}

const mailTo = (id: string, to: string) =>
  until(
    () =>
      mails().find(
        (m) => m.to.length === 1 && m.to[0] === to && String(m.data).includes(id) && /waiting/.test(m.subject),
      ),
    `the "submitted" mail to ${to}`,
  );

const tokenOf = (url: string) => new URL(url).hash.replace(/^#decide=/, '');

describe('approve / reject links in the e-mail', () => {
  test('each approver gets their own links; one approves once; the second use and the other approver’s session are refused', async () => {
    const id = await submit();
    const [annMail, benMail] = [await mailTo(id, ANN), await mailTo(id, BEN)];
    const ann = linksOf(annMail);
    const ben = linksOf(benMail);
    assert.deepEqual(Object.keys(ann).sort(), ['Approve', 'Reject', 'Review the request']);
    assert.ok(ann.Approve.startsWith(`${CONSOLE}/pod/requests/${id}#decide=`), ann.Approve);
    assert.notEqual(tokenOf(ann.Approve), tokenOf(ben.Approve), 'a link per approver');
    assert.equal(ann['Review the request'], `${CONSOLE}/pod/requests/${id}`);

    // Opening the request (what the link's page reads) changes nothing.
    const annSession = await signIn(ANN);
    assert.equal((await annSession('GET', `/api/pod/requests/${id}`)).body.status, 'submitted');

    // Ben's session with Ann's link: refused, and the link still works for Ann afterwards.
    const benSession = await signIn(BEN);
    const wrong = await benSession('POST', `/api/pod/requests/${id}/link`, { token: tokenOf(ann.Approve) });
    assert.equal(wrong.status, 403);
    assert.match(wrong.body.error.message, /made for ann@contoso\.example; you are signed in as ben@contoso\.example/);

    // Ann's own API token is not her signed-in session: the link wants the person at the console.
    const annToken = (
      await h.app.identity.tokens.create(
        { kind: 'personal', name: 'ann-cli', owner: await h.app.identity.users.find(ANN), days: 1 },
        `user:${ANN}`,
      )
    ).token;
    const byToken = await fetch(`${h.url}/api/pod/requests/${id}/link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${annToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: tokenOf(ann.Approve) }),
    });
    assert.equal(byToken.status, 403);
    assert.match(((await byToken.json()) as any).error.message, /signed in to the console, not with a token/);

    const approved = await annSession('POST', `/api/pod/requests/${id}/link`, {
      token: tokenOf(ann.Approve),
      comment: 'ok by mail',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.deepEqual(
      approved.body.approvals.map((a: any) => [a.actor, a.decision, a.comment]),
      [[`user:${ANN}`, 'approved', 'ok by mail']],
    );

    const again = await annSession('POST', `/api/pod/requests/${id}/link`, { token: tokenOf(ann.Approve) });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'link_used');
    assert.match(again.body.error.message, /already used at \d{4}-/);
    // Ben's own link now meets a decided request: the ordinary rule answers.
    const late = await benSession('POST', `/api/pod/requests/${id}/link`, { token: tokenOf(ben.Reject) });
    assert.equal(late.status, 409);
    assert.doesNotMatch(late.body.error.code, /link_/);
  });

  test('an altered, expired or other request’s link is refused with the reason; a reject link rejects', async () => {
    const id = await submit();
    const other = await submit();
    const ann = linksOf(await mailTo(id, ANN));
    const annSession = await signIn(ANN);
    const use = (token: string, on = id) => annSession('POST', `/api/pod/requests/${on}/link`, { token });
    const [kid, claims, sig] = tokenOf(ann.Approve).split('.');
    // The Reject link's claims under the Approve link's signature: the decision cannot be swapped.
    const swapped = await use(`${kid}.${tokenOf(ann.Reject).split('.')[1]}.${sig}`);
    assert.equal(swapped.status, 400);
    assert.equal(swapped.body.error.code, 'invalid_link');
    assert.match(swapped.body.error.message, /altered/);
    assert.equal((await use(`${kid}.${claims}`)).body.error.code, 'invalid_link');
    const elsewhere = await use(tokenOf(ann.Approve), other);
    assert.equal(elsewhere.status, 400);
    assert.match(elsewhere.body.error.message, /another request/);

    const rejected = await use(tokenOf(ann.Reject));
    assert.equal(rejected.status, 200);
    assert.equal(rejected.body.status, 'rejected');

    const fresh = linksOf(await mailTo(other, ANN));
    h.clock.advance(4 * 3_600_000 + 1);
    const later = await signIn(ANN); // the session of four hours ago has ended too
    const expired = await later('POST', `/api/pod/requests/${other}/link`, { token: tokenOf(fresh.Approve) });
    assert.equal(expired.status, 410);
    assert.equal(expired.body.error.code, 'link_expired');
    assert.equal((await later('GET', `/api/pod/requests/${other}`)).body.status, 'submitted');
  });
});

describe('useDecisionLink (one-time use)', () => {
  const deps = () => ({ keys: h.app.store.keys, clock: h.clock });
  const tokenFor = (id: string, actor: string, title: 'Approve' | 'Reject') =>
    tokenOf(decisionLinks(id, actor, CONSOLE, 60_000, deps()).find((l) => l.title === title)!.url);
  const ID = '0123456789abcdef0123456789abcdef';
  type Claim = (trx: typeof h.app.store.db) => Promise<void>;
  /** What the service does: the claim first, then the decision, in one transaction. */
  const inOne = (claim: Claim, then: () => unknown) =>
    h.app.store.db.transaction().execute(async (trx) => {
      await claim(trx);
      return then();
    });

  test('decides with the link’s decision once; a second use is refused without deciding', async () => {
    const token = tokenFor(ID, 'user:ann', 'Reject');
    const decided: string[] = [];
    const decide = (d: string, claim: Claim) => inOne(claim, () => decided.push(d));
    await useDecisionLink(h.app.store.db, deps(), ID, token, 'user:ann', decide);
    await assert.rejects(
      useDecisionLink(h.app.store.db, deps(), ID, token, 'user:ann', decide),
      (e) => e instanceof LinkRefused && e.status === 409,
    );
    assert.deepEqual(decided, ['reject']);
  });

  test('a decision that fails leaves the link usable (one transaction); another actor never reaches the decision', async () => {
    const token = tokenFor(ID, 'user:ann', 'Approve');
    await assert.rejects(
      useDecisionLink(h.app.store.db, deps(), ID, token, 'user:ann', (_d, claim) =>
        inOne(claim, () => {
          throw new Error('database away');
        }),
      ),
      /database away/,
    );
    let calls = 0;
    await assert.rejects(
      useDecisionLink(h.app.store.db, deps(), ID, token, 'user:ben', async () => calls++),
      (e) => e instanceof LinkRefused && e.status === 403,
    );
    assert.equal(calls, 0);
    assert.equal(
      await useDecisionLink(h.app.store.db, deps(), ID, token, 'user:ann', (d, claim) => inOne(claim, () => d)),
      'approve',
    );
  });
});
