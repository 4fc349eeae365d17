import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { User, UserModel } from '../models/user.js';
import { hashPassword, needsRehash, verifyPassword } from '../utils/password.js';

/** Checks a password; an unknown id costs the same hashing work as a wrong password. */
async function verifyLogin(users: UserModel, id: string, password: string): Promise<User | undefined> {
  const user = await users.findById(id);
  const matches = await verifyPassword(user?.passwordHash, password);
  if (!user || !matches) return undefined;
  if (needsRehash(user.passwordHash)) await users.updatePasswordHash(user.id, await hashPassword(password));
  return user;
}

/** A Passport instance of this app's own (not the global one), with the tutorial's `local-login` strategy. */
export function createPassport(users: UserModel): passport.Authenticator {
  const authenticator = new passport.Passport();
  authenticator.use(
    'local-login',
    new LocalStrategy({ usernameField: 'id', passwordField: 'password', session: false }, (id, password, done) => {
      verifyLogin(users, id, password).then((user) => done(null, user ?? false), done);
    }),
  );
  return authenticator;
}
