import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import type { RowDataPacket } from 'mysql2/promise';
import { expire, getInfo, loggedInUser, makeSite, PASSWORD, setCookies } from './helpers/site.js';
import { redisKeyPrefix } from './helpers/stores.js';

describe('storage at rest', () => {
  it('neither MySQL nor Redis holds a plaintext password, a raw refresh token or a raw jti', async () => {
    const { app, db, redis } = await makeSite();
    const user = await loggedInUser(app);
    const rotated = setCookies(await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken })).refreshToken.value;
    const secrets = [PASSWORD, user.refreshToken, rotated, ...[user.refreshToken, rotated].map((t) => (jwt.decode(t) as jwt.JwtPayload).jti as string)];

    const [rows] = await db.query<RowDataPacket[]>('SELECT * FROM users WHERE id = ?', [user.id]);
    const [events] = await db.query<RowDataPacket[]>('SELECT * FROM security_events WHERE account_id = ?', [user.id]);
    // The session, the account's index of sessions, and its devices (what "a new device" compares).
    const keys = await redis.keys(`${redisKeyPrefix}*{${user.id}}*`);
    expect(keys.map((key) => key.slice(redisKeyPrefix.length).split(':')[0]).sort()).to.deep.equal(['devices', 'session', 'sessions']);
    const stored: unknown[] = [rows, events];
    for (const key of keys) stored.push(key, (await redis.type(key)) === 'hash' ? await redis.hGetAll(key) : await redis.zRangeWithScores(key, 0, -1));
    const dump = JSON.stringify(stored);
    for (const secret of secrets) expect(dump).not.to.include(secret);
    // And what Redis does hold is what the contract names: the session, keyed by its sid, with a TTL.
    const sessionKey = keys.find((key) => key.includes(':session:'))!;
    expect(sessionKey.endsWith((jwt.decode(user.refreshToken) as jwt.JwtPayload).sid)).to.equal(true);
    expect(await redis.hGet(sessionKey, 'uid')).to.equal(user.id);
    expect(await redis.pTTL(sessionKey)).to.be.greaterThan(0);
  });
});
