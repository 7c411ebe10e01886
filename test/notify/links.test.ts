import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/engine/clock.ts';
import { signActionLink, verifyActionLink } from '../../src/notify/links.ts';
import { KEY_ENV, Keyring, PREVIOUS_KEY_ENV } from '../../src/store/keys.ts';

// HMAC-SHA256 (RFC 2104) under an HKDF (RFC 5869) subkey of its own; base64url (RFC 4648 §5).

const HOUR = 3_600_000;
const key = () => randomBytes(32).toString('base64');

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tl-links-'));
  const env = { [KEY_ENV]: key() };
  const keys = new Keyring(dir, env);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const claims = {
    subject: 'pod/req-42',
    action: 'approve',
    actor: 'user:bob@example.com',
    expiresAt: clock.now() + HOUR,
  };
  return { dir, env, keys, clock, claims, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a signed link verifies, gives back its claims and a jti; URL-safe as it is', () => {
  const s = setup();
  try {
    const { token, jti } = signActionLink(s.claims, s);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(encodeURIComponent(token), token);
    const r = verifyActionLink(token, s, { action: 'approve', subject: 'pod/req-42' });
    assert.deepEqual(r, { ok: true, link: { ...s.claims, jti } });
    assert.notEqual(signActionLink(s.claims, s).jti, jti, 'each link has its own id (one-time use is by jti)');
  } finally {
    s.done();
  }
});

test('tampered links fail: claims changed, signature changed, parts swapped, garbage', () => {
  const s = setup();
  try {
    const { token } = signActionLink(s.claims, s);
    const [kid, body, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, act: 'approve', actor: 'user:mallory' })).toString(
      'base64url',
    );
    assert.deepEqual(verifyActionLink(`${kid}.${forged}.${sig}`, s), { ok: false, reason: 'bad-signature' });
    const flipped = Buffer.from(sig, 'base64url');
    flipped[0] ^= 1;
    assert.equal(verifyActionLink(`${kid}.${body}.${flipped.toString('base64url')}`, s).ok, false);
    assert.deepEqual(verifyActionLink(`${kid}.${body}.${sig.slice(0, 10)}`, s), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(verifyActionLink(`0000000000000000.${body}.${sig}`, s), { ok: false, reason: 'unknown-key' });
    for (const bad of ['', 'a.b', `${token}.x`, `${kid}.${body}.${sig}=`, 'x'.repeat(5000), `${kid}..${sig}`])
      assert.deepEqual(verifyActionLink(bad, s), { ok: false, reason: 'malformed' }, bad.slice(0, 20));
  } finally {
    s.done();
  }
});

test('expiry on the injected clock: valid until expiresAt, refused from then on; signing bounds', () => {
  const s = setup();
  try {
    const { token } = signActionLink(s.claims, s);
    s.clock.advance(HOUR - 1);
    assert.equal(verifyActionLink(token, s).ok, true);
    s.clock.advance(1);
    assert.deepEqual(verifyActionLink(token, s), { ok: false, reason: 'expired' });
    assert.throws(() => signActionLink({ ...s.claims, expiresAt: s.clock.now() }, s), /future/);
    assert.throws(() => signActionLink({ ...s.claims, expiresAt: s.clock.now() + 31 * 24 * HOUR }, s), /30 days/);
    assert.throws(() => signActionLink({ ...s.claims, subject: '' }, s), /non-empty/);
  } finally {
    s.done();
  }
});

test('wrong purpose: an audit-key MAC or another action/subject does not pass; another key never', () => {
  const s = setup();
  try {
    const { token } = signActionLink(s.claims, s);
    const [kid, body] = token.split('.');
    // The same construction under the audit chain's subkey: a MAC made for another purpose.
    const audit = s.keys.auditKey()!.key;
    const auditMac = createHmac('sha256', audit).update(`ticketloop action link v1\n${kid}\n${body}`).digest();
    assert.deepEqual(verifyActionLink(`${kid}.${body}.${auditMac.toString('base64url')}`, s), {
      ok: false,
      reason: 'bad-signature',
    });
    assert.notDeepEqual(s.keys.actionLinkKey()!.key, audit, 'a subkey of its own');
    assert.deepEqual(verifyActionLink(token, s, { action: 'deny' }), { ok: false, reason: 'wrong-action' });
    assert.deepEqual(verifyActionLink(token, s, { subject: 'pod/req-43' }), { ok: false, reason: 'wrong-subject' });
    const other = new Keyring(s.dir, { [KEY_ENV]: key() });
    assert.deepEqual(verifyActionLink(token, { keys: other, clock: s.clock }), { ok: false, reason: 'unknown-key' });
  } finally {
    s.done();
  }
});

test('during a key rotation, links signed with the previous key still verify', () => {
  const s = setup();
  try {
    const { token } = signActionLink(s.claims, s);
    const rotated = new Keyring(s.dir, { [KEY_ENV]: key(), [PREVIOUS_KEY_ENV]: s.env[KEY_ENV] });
    assert.equal(verifyActionLink(token, { keys: rotated, clock: s.clock }).ok, true);
    const fresh = signActionLink(s.claims, { keys: rotated, clock: s.clock }).token;
    assert.equal(fresh.split('.')[0], rotated.current.kid, 'new links name the new key');
  } finally {
    s.done();
  }
});
