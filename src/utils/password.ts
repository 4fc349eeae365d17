import argon2 from 'argon2';

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string): Promise<string> => argon2.hash(password, OPTIONS);

// Verifying against this when the id is unknown makes both failures cost the same time.
const dummyHash = hashPassword('not-a-real-password-only-for-timing');

/** True when `password` matches `hash`; with no hash it does the same work and returns false. */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  const matches = await argon2.verify(hash ?? (await dummyHash), password);
  return matches && hash !== undefined;
}

export const needsRehash = (hash: string): boolean => argon2.needsRehash(hash, OPTIONS);
