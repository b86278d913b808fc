// The official stripe client against flashsale's payment simulator. Starts nothing: the
// simulator's port comes from SIM_PORT (the C++ test integration_payments sets it).
import assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';
import {test} from 'node:test';

import Stripe from 'stripe';

const port = Number(process.env.SIM_PORT);
if (!Number.isInteger(port) || port <= 0) {
  throw new Error('set SIM_PORT to the port of a running payment simulator');
}
const stripe = new Stripe('sk_test_123', {host: '127.0.0.1', port, protocol: 'http'});

const intent = (paymentMethod, amount = 1999) => ({
  amount,
  currency: 'usd',
  payment_method: paymentMethod,
  confirm: true,
  metadata: {reservation_id: 'res-e2e'},
});

test('a confirmed payment intent with pm_card_visa succeeds', async () => {
  const pi = await stripe.paymentIntents.create(intent('pm_card_visa'));
  assert.match(pi.id, /^pi_/);
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.amount, 1999);
  const again = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(again.id, pi.id);
  assert.equal(again.status, 'succeeded');
});

test('a declined card throws StripeCardError with code card_declined', async () => {
  await assert.rejects(stripe.paymentIntents.create(intent('pm_card_chargeDeclined')), (err) => {
    assert.ok(err instanceof Stripe.errors.StripeCardError, `got ${err.type}: ${err.message}`);
    assert.equal(err.code, 'card_declined');
    assert.equal(err.statusCode, 402);
    return true;
  });
});

test('the same idempotency key replays the same payment intent', async () => {
  const idempotencyKey = `e2e-${randomUUID()}`;
  const first = await stripe.paymentIntents.create(intent('pm_card_visa', 4200), {idempotencyKey});
  const second = await stripe.paymentIntents.create(intent('pm_card_visa', 4200), {idempotencyKey});
  assert.equal(second.id, first.id);
  assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true');
});

test('a refund of a succeeded payment intent succeeds', async () => {
  const pi = await stripe.paymentIntents.create(intent('pm_card_mastercard', 777));
  const refund = await stripe.refunds.create({payment_intent: pi.id});
  assert.match(refund.id, /^re_/);
  assert.equal(refund.status, 'succeeded');
  assert.equal(refund.amount, 777);
  assert.equal(refund.payment_intent, pi.id);
});
