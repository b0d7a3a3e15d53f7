import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * zod as every schema in lib/ uses it (`import * as z from '…/platform/zod.js'`):
 * the mini build, whose schemas are built with functions (`z.optional(s)`,
 * `s.check(z.maxLength(n))`) instead of methods, so a cold start loads and
 * builds a fraction of the classic build (docs/performance.md); with the
 * English messages the classic build gives by default, so a message a schema
 * does not spell out itself reads the same ("Invalid input: expected string,
 * received number").
 */
config(en());

export * from 'zod/mini';
