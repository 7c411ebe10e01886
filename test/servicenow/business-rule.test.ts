import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { conditionHolds, RULE_MARKER } from '../../sandbox/servicenow/rules.ts';
import {
  BUSINESS_RULE_DOC,
  BUSINESS_RULE_MARKER,
  BUSINESS_RULE_SCRIPT,
  businessRuleCondition,
} from '../../src/itsm/servicenow/business-rule.ts';

test('docs/servicenow-business-rule.js is exactly the script setup installs', () => {
  const doc = readFileSync(new URL(`../../${BUSINESS_RULE_DOC}`, import.meta.url), 'utf8');
  assert.equal(doc, BUSINESS_RULE_SCRIPT);
  assert.ok(BUSINESS_RULE_SCRIPT.split('\n')[1].includes(BUSINESS_RULE_MARKER), 'the marker is on the first lines');
  assert.match(BUSINESS_RULE_SCRIPT, RULE_MARKER, 'the sandbox recognises it');
  // It reads the properties setup writes, and signs as the receiver verifies.
  assert.match(BUSINESS_RULE_SCRIPT, /gs\.getProperty\('x_ticketloop\.webhook_url'\)/);
  assert.match(BUSINESS_RULE_SCRIPT, /gs\.getProperty\('x_ticketloop\.webhook_secret'\)/);
  assert.match(BUSINESS_RULE_SCRIPT, /setRequestHeader\('X-Sn-Signature', 'sha256=' \+ hex\)/);
  // v2: the MAC covers the timestamp it sends, then a dot, then the body (http/auth.ts's scheme).
  assert.match(BUSINESS_RULE_SCRIPT, /setRequestHeader\('X-Sn-Timestamp', timestamp\)/);
  assert.match(BUSINESS_RULE_SCRIPT, /generateMac\(keyB64, 'HmacSHA256', timestamp \+ '\.' \+ body\)/);
  assert.match(BUSINESS_RULE_SCRIPT, /new GlideDateTime\(\)\.getNumericValue\(\) \/ 1000/);
  assert.equal(BUSINESS_RULE_MARKER, 'Ticketloop business rule v2');
});

test('the condition quotes any prefix so that the instance (and the sandbox) read it back', () => {
  for (const prefix of ['tl:', "it's:", 'back\\slash:']) {
    const c = businessRuleCondition(prefix);
    assert.equal(conditionHolds(c, { correlation_id: `${prefix}x` }), true, c);
    assert.equal(conditionHolds(c, { correlation_id: `other:${prefix}` }), false, c);
  }
  assert.equal(businessRuleCondition('tl:'), "current.correlation_id.startsWith('tl:')");
});
