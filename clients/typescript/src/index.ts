// The TypeScript client of `turnout serve`: see README.md and docs/service.md.
export * from './client.js';
export * from './errors.js';
export type { components, paths } from './schema.js';
