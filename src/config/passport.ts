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
  // A password changed meanwhile stays: the login goes on with the hash it checked, which the session's start finds
  // outdated (the login then fails as any that a password change overtook).
  return (await users.rehashPassword(user.id, user.passwordHash, passwordHash)) ? { ...user, passwordHash } : user;
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
