import { Router } from 'express';
import type { Db, Redis } from '../config/clients.js';

const answers = (check: () => Promise<unknown>) => check().then(() => true, () => false);

export function healthRoutes({ db, redis }: { db: Db; redis: Redis }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [mysql, redisOk] = await Promise.all([answers(() => db.query('SELECT 1')), answers(() => redis.ping())]);
    res.status(mysql && redisOk ? 200 : 503).set('Cache-Control', 'no-store').json({ mysql, redis: redisOk });
  });
  return router;
}
