import type { Request, RequestHandler, Response } from 'express';
import type { Db, Redis } from '../config/clients.js';
import type { Config } from '../config/index.js';
import type { ConfirmationSteps } from '../middleware/confirmed.js';
import type { createCsrf } from '../middleware/csrf.js';
import type { Notices } from '../middleware/notice.js';
import type { IdTag } from '../middleware/requestLog.js';
import type { AccountChanges } from '../models/accountChanges.js';
import type { PasskeyModel } from '../models/passkeys.js';
import type { RateLimits } from '../models/rateLimits.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { SecondFactorModel } from '../models/secondFactor.js';
import type { UserModel } from '../models/user.js';
import type { WrongCodes } from '../models/wrongCodes.js';
import type { AuthService } from '../services/auth.service.js';
import type { EmailService, MailContext } from '../services/email.service.js';
import type { PostOffice } from '../services/mail/postOffice.js';
import type { Recovery } from '../services/recovery.service.js';
import type { SecondFactorCodes } from '../services/codes.service.js';
import type { Confirmation } from '../services/confirmation.service.js';
import type { SecurityEvents } from '../services/securityEvents.js';
import type { AuthCookies } from '../utils/authCookies.js';
import type { Passwords } from '../utils/password.js';
import type { SecondFactorKeys } from '../utils/secondFactor.js';

/** What app.ts hands every feature area, made once; each area names the parts it takes (`Pick<AreaParts, …>`). */
export interface AreaParts {
  config: Config;
  db: Db;
  redis: Redis;
  users: UserModel;
  passkeyModel: PasskeyModel;
  secondFactor: SecondFactorModel;
  /** The keys of TOTP secrets and recovery codes (from TOTP_ENCRYPTION_KEY). */
  keys: SecondFactorKeys;
  /** The account's wrong codes across every place that checks one. */
  wrongCodes: WrongCodes;
  codes: SecondFactorCodes;
  sessions: RefreshSessions;
  /** Announces an account whose security summary changed (factors changed in MySQL). */
  accountChanges: AccountChanges;
  /** The accounts' security activity and the administrators' audit. */
  securityEvents: SecurityEvents;
  auth: AuthService;
  /** Confirming it's you: the proof, and the session's confirmed state. */
  confirmation: Confirmation;
  /** Its request steps: `requireConfirmed(page)` on the routes that need it, `loadProof` before a proof form. */
  confirmationSteps: ConfirmationSteps;
  passwords: Passwords;
  limits: RateLimits;
  idTag: IdTag;
  cookies: AuthCookies;
  notices: Notices;
  jwtAuth: RequestHandler;
  csrf: ReturnType<typeof createCsrf>;
  /** Puts a CSRF token on the pages that render a form (and on posts that may render it again). */
  formToken: RequestHandler;
  /** Shows (once) a notice left by the previous response. */
  readNotice: RequestHandler;
  /** Refuses cross-site posts, reads the body (form or JSON, 10 kB) and checks the CSRF token. */
  acceptForm: RequestHandler[];
  /** Mail, written in the transaction of the change that causes it; the sender delivers it. */
  mail: PostOffice;
  /** The account's email address and its verification. */
  emails: EmailService;
  /** Reset links (by mail, or from an administrator) and the reset they allow. */
  recovery: Recovery;
  /** The language and the origin of the links of a mail this request causes. */
  mailContext: (req: Request, res: Response) => MailContext;
}
