import { expect } from 'chai';
import type request from 'supertest';
import { ko } from './i18n.js';
import { setCookies } from './site.js';

const FEW_SECONDS = 4000;

/** Runs a request and checks it answered 503 within a few seconds and did not touch the auth cookies. */
export async function expectUnavailable(pending: PromiseLike<request.Response>) {
  const started = Date.now();
  const res = await pending;
  expect(res.status, res.text).to.equal(503);
  expect(Date.now() - started).to.be.below(FEW_SECONDS);
  expect(res.headers['retry-after']).to.match(/^\d+$/);
  expect(res.text).to.include(ko('error.unavailable'));
  expect(setCookies(res)).not.to.have.any.keys('accessToken', 'refreshToken');
  return res;
}
