import { z } from 'zod';

/** An account's name, as the accounts file, a harness and Redis give it (never its secret). */
export const ACCOUNT_NAME_RULE = /^[A-Za-z0-9_.-]{1,64}$/;
export const AccountNameSchema = z.string().regex(ACCOUNT_NAME_RULE, 'expected 1 to 64 letters, digits, "_", "." or "-"');

/** The account a worker without an accounts file holds: its own environment's credentials. */
export const DEFAULT_ACCOUNT = 'default';
