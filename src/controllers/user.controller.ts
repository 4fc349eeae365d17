import type { NextFunction, Request, Response } from 'express';
import type { SecuritySummaries } from '../services/securitySummaries.js';
import { shownEvent } from './activityRows.js';
import type { UserModel } from '../models/user.js';
import type { AuthService } from '../services/auth.service.js';
import type { EmailService, MailContext } from '../services/email.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import type { Notices } from '../middleware/notice.js';
import { activityOf, authEvent, logEvent } from '../middleware/requestLog.js';
import { HttpError, type FieldErrors } from '../utils/httpError.js';
import { clientGone, loginClientOf, safeNextPath, succeed } from '../utils/http.js';
import type { Passwords } from '../utils/password.js';
import { showFormAgain } from '../middleware/errors.js';
import { createKeptPages } from '../middleware/keptPages.js';
import { field } from '../middleware/validate.js';

// Kept info pages (about 3 kB each), one per session and language, across the sessions active lately.
const KEPT_INFO_PAGES = 1_000;

export function createUserController({
  users,
  auth,
  cookies,
  notices,
  passwords,
  emails,
  mailContext,
  summaries,
}: {
  users: UserModel;
  auth: AuthService;
  cookies: AuthCookies;
  notices: Notices;
  passwords: Passwords;
  /** Registration with an address: the account and the address's link in one transaction. */
  emails: Pick<EmailService, 'createAccount'>;
  mailContext: (req: Request, res: Response) => MailContext;
  summaries: SecuritySummaries;
}) {
  const infoPages = createKeptPages(KEPT_INFO_PAGES);
  return {
    /** A failed registration shows the form again with the id, name and email kept, never the passwords. */
    registerFormAgain: showFormAgain('register', (req) => ({
      id: field(req, 'id').trim().slice(0, 100),
      name: field(req, 'name').trim().slice(0, 200),
      email: field(req, 'email').trim().slice(0, 300),
    })),

    /** A failed login shows the form again with the id and the `next` target kept, never the password. */
    loginFormAgain: showFormAgain('login', (req) => ({
      id: field(req, 'id').slice(0, 100),
      next: safeNextPath(field(req, 'next')) ?? '',
      shared: loginClientOf(req).shared ? 'on' : '',
    })),

    renderRegisterPage(_req: Request, res: Response) {
      res.render('register', { values: {}, errors: {} });
    },

    /** After "registered, please log in" the new id is filled in. */
    renderLoginPage(req: Request, res: Response) {
      res.render('login', { values: { id: res.locals.noticeParams?.id ?? '', next: safeNextPath(req.query.next) ?? '' }, errors: {} });
    },

    /** The info page's security summary, from memory in the same tick when it is current (the hot path). */
    securitySummary(_req: Request, res: Response, next: NextFunction) {
      const summary = summaries.of(res.locals.user!.id);
      if (!(summary instanceof Promise)) return void ((res.locals.security = summary), next());
      void summary.then((read) => ((res.locals.security = read), next()));
    },

    renderInfoPage(req: Request, res: Response, next: NextFunction) {
      const { user, security, t, lang, csrfToken, notice, langSwitch } = res.locals;
      // The hot path: a session's page in a language, with no notice and no query, is the same bytes while its summary
      // and logout token are; only such a page is kept, and only where views are cached (production).
      const keepable = user && security && !notice && !req.url.includes('?') && req.app.enabled('view cache');
      const keep = keepable ? `${lang} ${user.sid}` : undefined;
      const shows = [user?.id, user?.name, user?.isAdmin, security, csrfToken, langSwitch];
      // Only a page rendered anew needs the last login before this session's own (the summary keeps the latest two).
      const locals = () => {
        const previous = user && security?.latestLogins.find((login) => login.detail !== user.sid);
        return { previousLogin: previous && shownEvent(previous, t) };
      };
      infoPages(res, next, 'info', locals, keep, shows);
    },

    async register(req: Request, res: Response) {
      const { id, name, password, email } = res.locals.registration!;
      const passwordHash = await passwords.hash(password, clientGone(res));
      if (!(await emails.createAccount({ id, name, passwordHash }, email, mailContext(req, res)))) {
        const errors: FieldErrors = { id: 'register.idTaken' };
        throw new HttpError(409, 'register.chooseAnotherId', { errors });
      }
      authEvent(req, 'register.ok', { user: id });
      notices.set(res, 'registered', id);
      succeed(req, res, '/user/login');
    },

    async login(req: Request, res: Response) {
      const account = res.locals.account!;
      if (account.locked) throw new HttpError(403, 'login.locked');
      const fieldsOf = ({ sid, newDevice }: { sid: string; newDevice?: boolean }) => ({ user: account.id, sid, newDevice, detail: sid });
      // One statement for two: the login's activity row is written only while the account is as its password was
      // checked (else this session ends again). Were it refused by MySQL (not down: that is a 503), the account is asked.
      // Only once the throttle took the success (the same round trip as the session's start): a login that fails there
      // ends its session and leaves no row, no alert.
      const stillValid = async (session: { sid: string; newDevice: boolean }) => {
        await res.locals.loginReleased;
        const activity = activityOf(req, 'login.ok', fieldsOf(session));
        const written = activity && (await req.recordEvent!(activity, account));
        return written ?? users.unchanged(account);
      };
      const issued = await auth.startSession(account, cookies.read(req), loginClientOf(req), stillValid);
      cookies.set(res, issued);
      logEvent(req, 'login.ok', fieldsOf({ sid: issued.user.sid, newDevice: issued.newDevice }));
      succeed(req, res, safeNextPath(field(req, 'next')) ?? '/user/info');
    },

    async logout(req: Request, res: Response) {
      const carried = cookies.read(req);
      // A cross-site link arrives without our SameSite=Strict cookies: nothing to do.
      if (!carried.access && !carried.refresh) return succeed(req, res, '/user/login');
      const ended = await auth.endSession(carried);
      if (ended) authEvent(req, 'logout', { user: ended.userId, sid: ended.sid });
      cookies.clear(res);
      notices.set(res, 'loggedOut');
      succeed(req, res, '/user/login');
    },
  };
}
