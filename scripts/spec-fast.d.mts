export class Unsupported extends Error {}
/** Source of a module body defining `INVALID` and `parseSpecFast(input)` for a zod v4 schema. */
export function compileSpecParser(schema: unknown): string;
