/**
 * Templates compiled at build time. Empty in the source tree (templates are then read from
 * templates/ and compiled on first use); the single-file build (scripts/bundle.mjs) replaces this
 * module with every template precompiled by Handlebars, so the shipped agent neither reads
 * templates/ nor spends start-up time compiling them.
 */
export type TemplateSpec = Parameters<typeof import('handlebars').template>[0];

/** `network/link.hbs` → its precompiled specification. */
export const PRECOMPILED: Readonly<Record<string, TemplateSpec>> | undefined = undefined;
