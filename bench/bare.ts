// The ceiling: a bare Express app that renders the same info view, with no middleware at all; with
// BENCH_PRODUCTION=1, the production page with no auth (helmet and pino-http in front).
import express from 'express';
import { translators } from '../src/config/locales.js';
import { viewsDir } from '../src/config/paths.js';
import { viewEngine } from '../src/config/views.js';
import { inProduction } from './production.js';

const app = express();
app.engine('ejs', viewEngine(true));
app.set('view engine', 'ejs');
app.set('views', viewsDir);
app.enable('view cache');
app.set('etag', false);
inProduction(app);
const user = { id: 'bench_user', name: 'Bench', sid: 'sid' };
// What the site's middleware would have put on res.locals: the language and a CSRF token for logout.
const locals = { lang: 'ko', t: translators.ko, langSwitch: { lang: 'en', href: '?lang=en' }, csrfToken: '0'.repeat(129) }; // as long as a real token
// Any cookie stands for "logged in": the same two pages as the site's, with nothing checked.
app.get('/user/info', (req, res) => res.render('info', req.headers.cookie ? { user, ...locals } : locals));
app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
