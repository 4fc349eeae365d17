import type { Request } from 'express';
import { authEvent } from '../middleware/requestLog.js';
import { invalidAccountForm } from '../middleware/validate.js';
import type { Proof } from '../services/confirmation.service.js';
import type { HttpError } from '../utils/httpError.js';
import type { MessageKey } from '../utils/i18n.js';

/** A proof that did not hold: 400 with the message on the field that was wrong (a wrong one logged as a failed re-check). */
export function refusedProof(req: Request, proof: Exclude<Proof, { account: unknown }>, password: { field: string; message: MessageKey }): HttpError {
  if ('missing' in proof) return invalidAccountForm({ code: 'twoFactor.codeRequired' });
  authEvent(req, 'reauth.failed', { user: req.res!.locals.user!.id, wrong: proof.wrong, detail: proof.wrong });
  return invalidAccountForm(proof.wrong === 'password' ? { [password.field]: password.message } : { code: 'twoFactor.wrongCode' });
}
