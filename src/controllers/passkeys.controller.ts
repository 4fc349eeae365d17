import type { Request, Response } from 'express';
import type { Notices } from '../middleware/notice.js';
import { field } from '../middleware/validate.js';
import { authEvent } from '../middleware/requestLog.js';
import type { PasskeyService, RelyingParty } from '../services/passkeys.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import { loginClientOf, succeed } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';
import type { MessageKey } from '../utils/i18n.js';
import { checkName } from '../utils/inputRules.js';

/** The passkey name typed on the page, by the rules of a person's name; optional when adding one. */
function passkeyName(typed: string, failure: MessageKey, optional: boolean): string {
  const name = typed.trim().normalize('NFC');
  const problem = name === '' && optional ? undefined : checkName(name);
  if (problem) throw new HttpError(400, failure, { errors: { name: problem } });
  return name;
}

export function createPasskeysController({
  passkeys,
  cookies,
  notices,
  relyingParty,
}: {
  passkeys: PasskeyService;
  cookies: AuthCookies;
  notices: Notices;
  /** This request's RP ID and the site's origins. */
  relyingParty: (req: Request) => RelyingParty;
}) {
  return {
    async renderPasskeysPage(_req: Request, res: Response) {
      res.render('passkeys', { passkeys: await passkeys.list(res.locals.user!.id) });
    },

    async registrationOptions(req: Request, res: Response) {
      res.json(await passkeys.registrationOptions(res.locals.user!, relyingParty(req)));
    },

    async register(req: Request, res: Response) {
      const user = res.locals.user!;
      const name = passkeyName(field(req, 'name'), 'passkeys.addFailed', true);
      if (!(await passkeys.register(user, relyingParty(req), req.body.response, name))) throw new HttpError(400, 'passkeys.addFailed');
      authEvent(req, 'passkey.added', { user: user.id });
      notices.set(res, 'passkeyAdded');
      res.json({ success: true });
    },

    async rename(req: Request, res: Response) {
      const user = res.locals.user!;
      const credentialId = field(req, 'credentialId');
      const name = passkeyName(field(req, 'name'), 'passkeys.renameFailed', false);
      if (!credentialId || !(await passkeys.rename(user.id, credentialId, name))) throw new HttpError(404, 'passkeys.notFound');
      authEvent(req, 'passkey.renamed', { user: user.id });
      notices.set(res, 'passkeyRenamed');
      succeed(req, res, '/user/passkeys');
    },

    async remove(req: Request, res: Response) {
      const user = res.locals.user!;
      const credentialId = field(req, 'credentialId');
      if (!credentialId || !(await passkeys.remove(user.id, credentialId))) throw new HttpError(404, 'passkeys.notFound');
      authEvent(req, 'passkey.removed', { user: user.id });
      notices.set(res, 'passkeyRemoved');
      succeed(req, res, '/user/passkeys');
    },

    async loginOptions(req: Request, res: Response) {
      res.json(await passkeys.loginOptions(relyingParty(req)));
    },

    async confirmOptions(req: Request, res: Response) {
      res.json(await passkeys.confirmOptions(res.locals.user!, relyingParty(req)));
    },

    async confirm(req: Request, res: Response) {
      const user = res.locals.user!;
      await passkeys.confirm({ user, rp: relyingParty(req), response: req.body.response, settle: res.locals.settleAttempt! });
      authEvent(req, 'session.confirmed', { user: user.id, sid: user.sid, method: 'passkey' });
      res.json({ success: true });
    },

    async login(req: Request, res: Response) {
      const issued = await passkeys
        .login({
          rp: relyingParty(req),
          response: req.body.response,
          carried: cookies.read(req),
          client: loginClientOf(req),
          settle: res.locals.settleAttempt!,
        })
        .catch((err: unknown) => {
          if (err instanceof HttpError && err.status === 401) authEvent(req, 'passkey.login_failed');
          throw err;
        });
      cookies.set(res, issued);
      authEvent(req, 'login.ok', { user: issued.user.id, sid: issued.user.sid, method: 'passkey' });
      res.json({ success: true });
    },
  };
}
