import type { Request, RequestHandler } from 'express';
import type { Confirmation } from '../services/confirmation.service.js';
import { wantsJson } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';

/** The confirm page, coming back to `next` (the contract's spelling: slashes need no escaping in a query). */
export const confirmPath = (next: string): string => `/user/confirm?next=${encodeURIComponent(next).replace(/%2F/g, '/')}`;

/** Where a person goes on after confirming: a POST's form page (named by its route), a GET page itself. */
type PageOf = string | ((req: Request) => string);

export type ConfirmationSteps = ReturnType<typeof createConfirmationSteps>;

/** The request plumbing of "confirming it's you" (services/confirmation.service.ts), for every area's routes. */
export function createConfirmationSteps(confirmation: Pick<Confirmation, 'isConfirmed' | 'asksCode'>) {
  return {
    /**
     * After requireLogin: a route that changes how the account is reached (or whether it exists) needs a session
     * confirmed within STEP_UP_TTL. Otherwise nothing changes: a browser is sent to confirm and come back (303), a
     * JSON client gets 403 with `stepUp: true`.
     */
    requireConfirmed:
      (page?: PageOf): RequestHandler =>
      async (req, res, next) => {
        if (await confirmation.isConfirmed(res.locals.user!)) return next();
        if (wantsJson(req)) return next(new HttpError(403, 'confirm.required', { json: { stepUp: true } }));
        const back = page === undefined ? req.originalUrl : typeof page === 'string' ? page : page(req);
        res.redirect(303, confirmPath(back));
      },

    /** After requireLogin, before a form that asks for the proof (and its check): whether it asks for a code too. */
    async loadProof(_req, res, next) {
      res.locals.asksCode = await confirmation.asksCode(res.locals.user!.id);
      next();
    },
  } satisfies Record<string, RequestHandler | ((page?: PageOf) => RequestHandler)>;
}
