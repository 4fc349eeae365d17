import type { AuthUser } from '../services/auth.service.js';
import type { User as Account } from '../models/user.js';
import type { Registration } from '../utils/inputRules.js';
import type { Lang, MessageKey, Translate } from '../utils/i18n.js';
import type { LanguageSwitch } from '../middleware/language.js';

declare global {
  namespace Express {
    interface Locals {
      user?: AuthUser;
      /** Set by jwt_auth in case 4: the cookies were just cleared. */
      sessionEnded?: boolean;
      notice?: MessageKey;
      /** The page's language, its translator and the link to the other language (middleware/language.ts). */
      lang: Lang;
      t: Translate;
      langSwitch: LanguageSwitch;
      csrfToken?: string;
      /** The account the local-login strategy accepted. */
      account?: Account;
      registration?: Registration;
      /** The network counter's window that this login attempt was counted in (throttle.ts). */
      loginWindow?: string;
      /** The release of a successful login's reservation, under way (localLogin.ts). */
      loginReleased?: Promise<void>;
    }
  }
}
