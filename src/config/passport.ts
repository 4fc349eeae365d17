import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { User, UserModel } from '../models/user.js';
import { clientGone } from '../utils/http.js';
import { needsRehash, type Passwords } from '../utils/password.js';

/** Checks a password; an unknown id costs the same hashing work as a wrong password. */
async function verifyLogin(users: UserModel, passwords: Passwords, id: string, password: string, gone: AbortSignal): Promise<User | undefined> {
  const user = await users.findById(id);
  const matches = await passwords.verify(user?.passwordHash, password, gone);
  if (!user || !matches) return undefined;
  if (!needsRehash(user.passwordHash)) return user;
  const passwordHash = await passwords.hash(password, gone);
  if (await users.rehashPassword(user.id, user.passwordHash, passwordHash)) return { ...user, passwordHash };
  // Another login rehashed it first, or the password changed meanwhile (that one stays): the password is asked again.
  const current = await users.findById(id);
  return current && (await passwords.verify(current.passwordHash, password, gone)) ? current : undefined;
}

/** A Passport instance of this app's own (not the global one), with the tutorial's `local-login` strategy. */
export function createPassport(users: UserModel, passwords: Passwords): passport.Authenticator {
  const authenticator = new passport.Passport();
  const options = { usernameField: 'id', passwordField: 'password', session: false, passReqToCallback: true } as const;
  authenticator.use(
    'local-login',
    new LocalStrategy(options, (req, id, password, done) => {
      verifyLogin(users, passwords, id, password, clientGone(req.res!)).then((user) => done(null, user ?? false), done);
    }),
  );
  return authenticator;
}
