// The baseline: a bare Express app that renders the same info view, with no middleware at all.
import express from 'express';
import { viewsDir } from '../src/config/paths.js';

const app = express();
app.set('view engine', 'ejs');
app.set('views', viewsDir);
app.enable('view cache');
const user = { id: 'bench_user', name: 'Bench', sid: 'sid' };
app.get('/user/info', (_req, res) => res.render('info', { user }));
app.listen(Number(process.env.PORT), '127.0.0.1');
