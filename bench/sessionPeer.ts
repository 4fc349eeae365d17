// The design JWT is meant to beat: express-session with connect-redis (one Redis GET per request), rendering
// the same info view; with BENCH_PRODUCTION=1, helmet and pino-http in front. Dev dependencies used only here.
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { translators } from '../src/config/locales.js';
import { viewsDir } from '../src/config/paths.js';
import { viewEngine } from '../src/config/views.js';
import { inProduction } from './production.js';

declare module 'express-session' {
  interface SessionData {
    user: { id: string; name: string; sid: string };
  }
}

const client = createClient({ url: process.env.REDIS_URL });
await client.connect();
const app = express();
app.engine('ejs', viewEngine(true));
app.set('view engine', 'ejs');
app.set('views', viewsDir);
app.enable('view cache');
app.set('etag', false);
inProduction(app);
app.use(
  session({
    store: new RedisStore({ client, prefix: 'bench-peer:' }),
    secret: process.env.COOKIE_SECRET!,
    name: 'sid',
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'strict' },
  }),
);
const locals = { lang: 'ko', t: translators.ko, langSwitch: { lang: 'en', href: '?lang=en' }, csrfToken: '0'.repeat(129) };
app.post('/login', (req, res) => {
  req.session.user = { id: 'bench_user', name: 'Bench', sid: req.session.id };
  res.sendStatus(204);
});
app.get('/user/info', (req, res) => res.render('info', { ...locals, user: req.session.user }));
app.listen(Number(process.env.PORT), '127.0.0.1');
