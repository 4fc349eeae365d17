import type { Logger } from 'pino';
import type { AccountAsChecked, NewSecurityEvent } from '../models/securityEvents.js';
import type { AuthUser } from '../services/auth.service.js';
import type { User as Account } from '../models/user.js';
import type { SettleAttempt } from '../models/rateLimits.js';
import type { WaitingLogin, WaitingLoginRef } from '../models/waitingLogins.js';
import type { TwoFactorPage } from '../services/twoFactor.service.js';
import type { ConfirmPage } from '../controllers/confirm.controller.js';
import type { EmailPage } from '../controllers/email.controller.js';
import type { SecuritySummary } from '../services/securitySummaries.js';
import type { Registration } from '../utils/inputRules.js';
import type { Lang, MessageKey, Params, Translate } from '../utils/i18n.js';
import type { LanguageSwitch } from '../middleware/language.js';

declare global {
  namespace Express {
    interface Request {
      /** The request id (X-Request-Id) and the site's logger, set by requestLogger. */
      id: string;
      log: Logger;
      /** Where authEvent records what happened to accounts (services/securityEvents.ts). */
      recordEvent: ((event: NewSecurityEvent, asChecked?: AccountAsChecked) => Promise<boolean | undefined>) | undefined;
    }
    interface Locals {
      user?: AuthUser;
      /** Set by jwt_auth in case 4: the cookies were just cleared. */
      sessionEnded?: boolean;
      notice?: MessageKey;
      /** The values of the notice's placeholders (a count). */
      noticeParams?: Params;
      /** The page's language, its translator and the link to the other language (middleware/language.ts). */
      lang: Lang;
      t: Translate;
      langSwitch: LanguageSwitch;
      /** On the answer to a post: the GET page it belongs to (its language link and its place in the history). */
      postAnswersFor?: string;
      csrfToken?: string;
      /** The account the local-login strategy accepted. */
      account?: Account;
      registration?: Registration;
      /** Settles the password attempt that the throttle reserved (throttle.ts): a failure unless told otherwise. */
      settleAttempt?: SettleAttempt;
      /** Set when one more failed password would lock this (id, network) pair: for how long. */
      lockAfterNextFailure?: { minutes: number };
      /** The release of a successful login's reservation, under way (localLogin.ts). */
      loginReleased?: Promise<void>;
      /** The login waiting for its second factor that this request tries a code for, its try counted. */
      waitingLogin?: { ref: WaitingLoginRef; login: WaitingLogin };
      /** What the /user/2fa page shows, also when its form is shown again with an error. */
      twoFactor?: TwoFactorPage;
      /** The info page's security summary (none while the stores cannot give it: the page shows the links alone). */
      security?: SecuritySummary;
      /** The account's proof asks for a code besides the password (it has TOTP). */
      asksCode?: boolean;
      /** What the confirm page offers this account, and for how many minutes a confirmation holds. */
      confirmPage?: ConfirmPage;
      /** The address the email page's form gave, normalised. */
      emailAddress?: string;
      /** What the email page shows (also when its form is shown again). */
      emailPage?: EmailPage;
      /** The reset link this request carries (good when read) and the account it resets. */
      resetLink?: { token: string; userId: string };
    }
  }
}
