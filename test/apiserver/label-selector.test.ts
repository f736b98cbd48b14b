import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesLabels, parseLabelSelector } from '../../apiserver/label-selector.js';

function selects(selector: string, labels: Record<string, string> | undefined): boolean {
  const parsed = parseLabelSelector(selector);
  assert.ok(parsed.ok, `selector ${selector} should parse`);
  return matchesLabels(parsed.value, labels);
}

test('equality: = and == require the key with that value; != also matches objects without the key', () => {
  assert.equal(selects('app=broker', { app: 'broker' }), true);
  assert.equal(selects('app==broker', { app: 'broker' }), true);
  assert.equal(selects('app=broker', { app: 'router' }), false);
  assert.equal(selects('app=broker', {}), false);
  assert.equal(selects('app!=broker', { app: 'router' }), true);
  assert.equal(selects('app!=broker', undefined), true);
  assert.equal(selects('app!=broker', { app: 'broker' }), false);
});

test('set-based: in needs one of the values; notin also matches objects without the key', () => {
  assert.equal(selects('tier in (gold, silver)', { tier: 'silver' }), true);
  assert.equal(selects('tier in (gold,silver)', { tier: 'bronze' }), false);
  assert.equal(selects('tier in (gold)', {}), false);
  assert.equal(selects('tier notin (gold)', { tier: 'silver' }), true);
  assert.equal(selects('tier notin (gold)', {}), true);
  assert.equal(selects('tier notin (gold)', { tier: 'gold' }), false);
});

test('existence: key and !key', () => {
  assert.equal(selects('served', { served: '' }), true);
  assert.equal(selects('served', {}), false);
  assert.equal(selects('!served', {}), true);
  assert.equal(selects('!served', { served: 'yes' }), false);
});

test('gt and lt compare integers', () => {
  assert.equal(selects('weight>3', { weight: '4' }), true);
  assert.equal(selects('weight>3', { weight: '3' }), false);
  assert.equal(selects('weight<3', { weight: '2' }), true);
  assert.equal(selects('weight<3', { weight: 'x' }), false);
});

test('requirements are ANDed and commas inside a set do not split it', () => {
  assert.equal(selects('app=broker,tier in (a,b),!legacy', { app: 'broker', tier: 'b' }), true);
  assert.equal(selects('app=broker,tier in (a,b),!legacy', { app: 'broker', tier: 'b', legacy: 'y' }), false);
});

test('prefixed keys are accepted', () => {
  assert.equal(selects('app.kubernetes.io/name=kubelink', { 'app.kubernetes.io/name': 'kubelink' }), true);
});

test('an empty selector matches everything', () => {
  assert.equal(selects('', undefined), true);
});

test('malformed selectors are rejected with a reason', () => {
  for (const bad of ['a=b,', 'tier in ()', 'weight>x', 'in valid=x', '-bad=x', 'a=b c']) {
    const parsed = parseLabelSelector(bad);
    assert.equal(parsed.ok, false, `"${bad}" should not parse`);
    if (!parsed.ok) assert.match(parsed.reason, /unable to parse requirement/);
  }
});
