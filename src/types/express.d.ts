import type { AuthUser } from '../services/auth.service.js';
import type { User as Account } from '../models/user.js';
import type { Registration } from '../utils/inputRules.js';

declare global {
  namespace Express {
    interface Locals {
      user?: AuthUser;
      /** Set by jwt_auth in case 4: the cookies were just cleared. */
      sessionEnded?: boolean;
      notice?: string;
      /** The account the local-login strategy accepted. */
      account?: Account;
      registration?: Registration;
      /** The network counter's window that this login attempt was counted in (throttle.ts). */
      loginWindow?: string;
    }
  }
}
