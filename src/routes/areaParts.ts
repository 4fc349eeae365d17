import type { RequestHandler } from 'express';
import type { Db, Redis } from '../config/clients.js';
import type { Config } from '../config/index.js';
import type { createCsrf } from '../middleware/csrf.js';
import type { Notices } from '../middleware/notice.js';
import type { IdTag } from '../middleware/requestLog.js';
import type { RateLimits } from '../models/rateLimits.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { UserModel } from '../models/user.js';
import type { AuthService } from '../services/auth.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import type { Passwords } from '../utils/password.js';

/** What app.ts hands every feature area, made once; each area names the parts it takes (`Pick<AreaParts, …>`). */
export interface AreaParts {
  config: Config;
  db: Db;
  redis: Redis;
  users: UserModel;
  sessions: RefreshSessions;
  auth: AuthService;
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
}
