import { createHash, randomBytes } from 'node:crypto';

/** A link's token: 256 random bits, so guessing one is hopeless (no throttle needed where it is checked). */
export const newToken = (): string => randomBytes(32).toString('base64url');

/** What the database keeps of a token: its SHA-256, so a copy of the table opens no link. */
export const tokenHash = (token: string): Buffer => createHash('sha256').update(token).digest();

/** The shape of a token this site makes (43 base64url characters); anything else is no link. */
export const isTokenShaped = (value: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(value);
