import type { Request, Response } from 'express';
import type { Notices } from '../middleware/notice.js';
import { authEvent } from '../middleware/requestLog.js';
import { field } from '../middleware/validate.js';
import type { RefreshSessions, SessionInfo } from '../models/refreshSessions.js';
import type { AuthCookies } from '../utils/authCookies.js';
import { deviceInWords } from '../utils/device.js';
import { shownIp, succeed, wantsJson } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';
import type { Translate } from '../utils/i18n.js';

/** A session as the page and its JSON show it. */
const shown = (session: SessionInfo, currentSid: string, t: Translate) => ({
  sid: session.sid,
  device: deviceInWords(session.userAgent, t),
  ip: shownIp(session.ip),
  createdAt: new Date(session.createdAt).toISOString(),
  lastUsedAt: new Date(session.lastUsedAt).toISOString(),
  current: session.sid === currentSid,
});

export function createSessionsController({ sessions, cookies, notices }: { sessions: RefreshSessions; cookies: AuthCookies; notices: Notices }) {
  return {
    async renderSessionsPage(req: Request, res: Response) {
      const { user, t } = res.locals;
      const live = await sessions.list(user!.id);
      if (wantsJson(req)) return void res.json({ sessions: live.map((session) => shown(session, user!.sid, t)) });
      // The page shows this device first, then the others, most recently used first; and which are shared computers'.
      const list = live.map((session) => ({ ...shown(session, user!.sid, t), shared: session.shared }));
      res.render('sessions', { current: list.find((session) => session.current), others: list.filter((session) => !session.current) });
    },

    async revoke(req: Request, res: Response) {
      const user = res.locals.user!;
      const sid = field(req, 'sid');
      if (!sid || !(await sessions.revoke(user.id, sid))) throw new HttpError(404, 'sessions.notFound');
      authEvent(req, 'session.revoked', { user: user.id, sid });
      // Ending the session this browser is in is a logout.
      const own = sid === user.sid;
      if (own) cookies.clear(res);
      notices.set(res, own ? 'loggedOut' : 'sessionRevoked');
      succeed(req, res, own ? '/user/login' : '/user/sessions');
    },

    async revokeOthers(req: Request, res: Response) {
      const user = res.locals.user!;
      const count = await sessions.revokeAll(user.id, user.sid);
      authEvent(req, 'sessions.revoked_others', { user: user.id, count });
      notices.set(res, 'otherSessionsRevoked', count);
      succeed(req, res, '/user/sessions');
    },
  };
}
