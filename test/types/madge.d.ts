/** The part of madge's API (v8, lib/api.js) the tests use; madge ships no types. */
declare module 'madge' {
  interface MadgeConfig {
    baseDir?: string;
    fileExtensions?: string[];
    tsConfig?: string | object;
    excludeRegExp?: Array<string | RegExp>;
    includeNpm?: boolean;
    detectiveOptions?: Record<string, unknown>;
  }
  interface MadgeInstance {
    /** module -> the modules it imports (paths relative to baseDir). */
    obj(): Record<string, string[]>;
    /** Each cycle as the list of modules on it. */
    circular(): string[][];
    /** Imports madge could not resolve. */
    warnings(): { skipped: string[] };
  }
  function madge(path: string | string[] | object, config?: MadgeConfig): Promise<MadgeInstance>;
  export default madge;
}
