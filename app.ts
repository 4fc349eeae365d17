import express, { type Express, type Request, type Response } from 'express';
import bodyParser from 'body-parser';
import cookieParser from 'cookie-parser';
import type { Logger } from 'pino';
import type { Config } from './src/config/index.js';
import type { Stores } from './src/config/clients.js';
import { createLogger } from './src/config/logger.js';
import { createPassport } from './src/config/passport.js';
import { faviconPath, publicDir, viewsDir, webauthnBrowserDir } from './src/config/paths.js';
import { viewEngine } from './src/config/views.js';
import { createUserController } from './src/controllers/user.controller.js';
import { bodyAsFields, formOrJsonOnly } from './src/middleware/bodyTypes.js';
import { createCsrf } from './src/middleware/csrf.js';
import { errorHandler, notFound } from './src/middleware/errors.js';
import { createLanguage } from './src/middleware/language.js';
import { securityHeaders } from './src/middleware/headers.js';
import { createIdTag, requestLogger } from './src/middleware/requestLog.js';
import { createJwtAuth } from './src/middleware/jwt_auth.js';
import { createLocalLogin } from './src/middleware/localLogin.js';
import { createNotices } from './src/middleware/notice.js';
import { createThrottleLogin, createThrottleRegister } from './src/middleware/throttle.js';
import { createConfirmationSteps } from './src/middleware/confirmed.js';
import { createEmailAddresses } from './src/models/emailAddresses.js';
import { createOutbox } from './src/models/outbox.js';
import { createPasskeyModel } from './src/models/passkeys.js';
import { createResetLinks } from './src/models/resetLinks.js';
import { createRateLimits } from './src/models/rateLimits.js';
import { createSecurityEventModel } from './src/models/securityEvents.js';
import { createSecondFactorModel } from './src/models/secondFactor.js';
import { createUserModel } from './src/models/user.js';
import { createWrongCodes } from './src/models/wrongCodes.js';
import { accountRoutes } from './src/routes/account.route.js';
import type { AreaParts } from './src/routes/areaParts.js';
import { healthRoutes } from './src/routes/health.route.js';
import { adminArea } from './src/routes/admin.route.js';
import { confirmArea } from './src/routes/confirm.route.js';
import { emailArea } from './src/routes/email.route.js';
import { recoveryArea } from './src/routes/recovery.route.js';
import { passkeysArea } from './src/routes/passkeys.route.js';
import { sessionsRoutes } from './src/routes/sessions.route.js';
import { activityRoutes } from './src/routes/activity.route.js';
import { twoFactorArea } from './src/routes/twoFactor.route.js';
import { userRoutes } from './src/routes/user.route.js';
import { createAuthService } from './src/services/auth.service.js';
import { createSecondFactorCodes } from './src/services/codes.service.js';
import { createConfirmation } from './src/services/confirmation.service.js';
import { createAlerts } from './src/services/alerts.js';
import { createSecurityEvents } from './src/services/securityEvents.js';
import { createEmailService } from './src/services/email.service.js';
import { createMailSeal, createPostOffice } from './src/services/mail/postOffice.js';
import { createRecovery } from './src/services/recovery.service.js';
import { createSecuritySummaries } from './src/services/securitySummaries.js';
import { createSessionStore } from './src/services/sessionStore.js';
import { createAuthCookies } from './src/utils/authCookies.js';
import { formatDateTime } from './src/utils/dateTime.js';
import { NAME_MAX, PASSWORD_MAX, PASSWORD_MIN } from './src/utils/inputRules.js';
import { createPasswords } from './src/utils/password.js';
import { createSecondFactorKeys } from './src/utils/secondFactor.js';
import { createJwtUtil } from './src/utils/jwt.js';

const BODY_LIMIT = 10_240;

export interface AppDeps extends Stores {
  config: Config;
  logger?: Logger;
  /** Wakes this process's mail sender after a mail is written (server.ts runs one; tests that deliver mail start theirs). */
  nudgeMail?: () => void;
}

/** Composes the site from its parts; the caller owns (opens and closes) the store clients. */
export function createApp({ config, db, redis, subscriber, logger = createLogger('silent'), nudgeMail = () => undefined }: AppDeps): Express {
  const cookies = createAuthCookies(config.isProduction);
  const notices = createNotices(config.isProduction);
  const users = createUserModel(db);
  const { endedSessions, sessions, accountChanges } = createSessionStore({ redis, config, logger });
  const jwt = createJwtUtil(config.secrets, config.accessTtlMs);
  const auth = createAuthService({ jwt, sessions, endedSessions, refreshTtlMs: config.refreshTtlMs });
  const passwords = createPasswords(config.hashConcurrency);
  const limits = createRateLimits(redis, {
    keyPrefix: config.redisKeyPrefix,
    loginMaxFailures: config.login.maxFailures,
    loginFailureWindowMs: config.login.failureWindowMs,
    loginIpMaxFailures: config.login.ipMaxFailures,
    registerMaxPerIp: config.registerMaxPerIp,
    resetMaxPerIp: config.resetMaxPerIp,
  });
  const csrf = createCsrf({ secret: config.secrets.cookie, isProduction: config.isProduction, publicOrigin: config.publicOrigin });
  const idTag = createIdTag(config.secrets.cookie);
  const mail = createPostOffice({
    db,
    outbox: createOutbox(db),
    mailSeal: createMailSeal(config.secrets.totp),
    fromDomain: config.mail.fromDomain,
    nudge: nudgeMail,
  });
  const securityEvents = createSecurityEvents({
    model: createSecurityEventModel(db),
    retentionMs: config.activityRetentionMs,
    logger,
    alerts: createAlerts({ users, mail, tag: idTag }),
  });
  securityEvents.keepPruned();
  const summaries = createSecuritySummaries({
    users,
    sessions,
    securityEvents,
    livePeriod: () => endedSessions.livePeriod,
    redisAnswers: () => endedSessions.redisAnswers,
    logger,
  });
  endedSessions.listen(subscriber, [{ channel: accountChanges.channel, hear: summaries.heard }]);
  const emails = createEmailService({ users, addresses: createEmailAddresses(db), mail });
  const recovery = createRecovery({ users, resetLinks: createResetLinks(db), sessions, passwords, mail, tag: idTag, resetTtlMs: config.resetTokenTtlMs });
  const mailContext = (req: Request, res: Response) => ({ lang: res.locals.lang, origin: csrf.siteOrigin(req) });
  const userController = createUserController({ users, auth, cookies, notices, passwords, summaries, emails, mailContext });
  const secondFactor = createSecondFactorModel(db);
  const keys = createSecondFactorKeys(config.secrets.totp);
  // Across all networks: rotating addresses (IPv6 /64s) buys no more guesses than this.
  const wrongCodes = createWrongCodes(redis, {
    keyPrefix: config.redisKeyPrefix,
    maxWrongCodes: config.login.maxFailures * 2,
    windowMs: config.login.failureWindowMs,
  });
  const codes = createSecondFactorCodes({ secondFactor, keys, wrongCodes });
  const confirmation = createConfirmation({ users, passwords, sessions, codes, stepUpMs: config.stepUpMs });
  const jwtAuth = createJwtAuth(auth, cookies);
  // Only form posts pay for these: the origin check, the body type, the parsers and the CSRF token.
  const acceptForm = [
    csrf.sameSiteOnly,
    formOrJsonOnly,
    bodyParser.urlencoded({ extended: false, limit: BODY_LIMIT }),
    bodyParser.json({ limit: BODY_LIMIT }),
    bodyAsFields,
    csrf.requireToken,
  ];
  // What the feature areas draw on; each takes the parts it names.
  const parts = {
    config,
    db,
    redis,
    users,
    sessions,
    accountChanges,
    securityEvents,
    auth,
    passwords,
    limits,
    idTag,
    cookies,
    notices,
    jwtAuth,
    csrf,
    acceptForm,
  };
  const factors = { passkeyModel: createPasskeyModel(db, redis, config.redisKeyPrefix), secondFactor, keys, wrongCodes, codes };
  const proof = { confirmation, confirmationSteps: createConfirmationSteps(confirmation) };
  const mailing = { mail, emails, recovery, mailContext };
  const areaParts: AreaParts = { ...parts, ...factors, ...proof, ...mailing, formToken: csrf.provideToken, readNotice: notices.read };
  const twoFactor = twoFactorArea(areaParts);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.engine('ejs', viewEngine(config.isProduction));
  app.set('view engine', 'ejs');
  app.set('views', viewsDir);
  if (config.isProduction) app.enable('view cache');
  // Every page is rendered for one person (no-store, or a fresh CSRF token): an ETag would be a hash for nothing.
  app.set('etag', false);

  // The input limits that the forms' hints state, and times as the person's language reads them (partials/time).
  app.locals.inputRules = { nameMax: NAME_MAX, passwordMin: PASSWORD_MIN, passwordMax: PASSWORD_MAX };
  app.locals.formatDateTime = formatDateTime;
  app.locals.sharedHours = Math.max(1, Math.round(config.sharedSessionIdleMs / 3_600_000));

  app.use(
    requestLogger(logger, (event, req, asChecked) => securityEvents.record(event, mailContext(req, req.res!), asChecked)),
    securityHeaders(config.isProduction),
  );
  // Before anything that may answer with a page, error pages included.
  app.use(cookieParser(config.secrets.cookie), createLanguage(config.isProduction));
  // The info page is the hot path: its router comes first, with the info route at its top.
  app.use(
    '/user',
    userRoutes({
      userController,
      jwtAuth,
      readNotice: notices.read,
      formToken: csrf.provideToken,
      logoutToken: csrf.provideSessionToken,
      acceptForm,
      throttleLogin: createThrottleLogin(limits, idTag),
      throttleRegister: createThrottleRegister(limits),
      localLogin: createLocalLogin(createPassport(users, passwords), idTag),
      secondStep: twoFactor.secondStepIfEnrolled,
    }),
  );
  // Mounted under its own path so that page requests never look at the disk.
  app.use('/static', express.static(publicDir, { index: false }));
  app.use('/static/webauthn', express.static(webauthnBrowserDir, { index: false }));
  app.get('/favicon.ico', (_req, res) => res.sendFile(faviconPath, { maxAge: '7d' }));
  app.use(healthRoutes({ db, redis, listener: endedSessions, securityEvents }));
  app.get('/', (_req, res) => res.redirect('/user/info'));
  app.use('/admin', adminArea(areaParts));
  app.use('/user', confirmArea(areaParts));
  app.use('/user', accountRoutes(areaParts));
  app.use('/user', twoFactor.router);
  app.use('/user', passkeysArea(areaParts));
  app.use('/user', sessionsRoutes(areaParts));
  app.use('/user', activityRoutes(areaParts));
  app.use('/user', emailArea(areaParts));
  app.use('/user', recoveryArea(areaParts));
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
