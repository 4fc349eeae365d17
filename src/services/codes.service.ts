import type { SecondFactorModel } from '../models/secondFactor.js';
import type { WrongCodes } from '../models/wrongCodes.js';
import { tooMany } from '../utils/httpError.js';
import { matchingStep, readCode, type SecondFactorKeys } from '../utils/secondFactor.js';

export type SecondFactorCodes = ReturnType<typeof createSecondFactorCodes>;

/** Which code was right: the authenticator's, or one of the recovery codes (undefined: none). */
export type AcceptedCode = 'totp' | 'recovery' | undefined;

/** An account's second-factor codes: a TOTP code of a later step than the last one, or an unused recovery code. */
export function createSecondFactorCodes({
  secondFactor,
  keys,
  wrongCodes,
}: {
  secondFactor: SecondFactorModel;
  keys: SecondFactorKeys;
  wrongCodes: WrongCodes;
}) {
  /** Accepts the code when it is right, and says which kind it was; each works once (parallel uses of one: one wins). */
  async function use(userId: string, typed: string): Promise<AcceptedCode> {
    const code = readCode(typed);
    if (!code) return undefined;
    if ('recovery' in code) return (await secondFactor.useRecoveryCode(userId, keys.hashRecoveryCode(userId, code.recovery))) ? 'recovery' : undefined;
    const stored = (await secondFactor.read(userId))?.secret;
    const key = stored ? keys.open(stored, userId) : undefined;
    const step = key ? matchingStep(key, code.totp) : undefined;
    return step !== undefined && (await secondFactor.acceptStep(userId, step)) ? 'totp' : undefined;
  }

  return {
    /** For a caller that counted the try itself (the login's code step). */
    use,

    /**
     * Checks a code counted against the account's wrong codes (the login step's limit, across all networks): 429
     * once they are spent, before anything is checked; a right code starts the count again.
     */
    async check(userId: string, typed: string): Promise<AcceptedCode> {
      const waitMs = await wrongCodes.reserve(userId);
      if (waitMs > 0) throw tooMany(waitMs);
      let right: AcceptedCode;
      try {
        right = await use(userId, typed);
      } catch (err) {
        await wrongCodes.settle(userId, 'refund').catch(() => undefined);
        throw err;
      }
      if (right) await wrongCodes.settle(userId, 'right');
      return right;
    },
  };
}
