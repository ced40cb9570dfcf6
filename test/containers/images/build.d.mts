/** Types of build.mjs (a plain ES module so that .ci/run can run it with node before the tests). */
export declare const IMAGES_DIR: string;
export declare const BASE_TAG: string;
export declare const PG_MAJOR: number;
export declare const IMAGES: Array<{ dir: string; tags: string[]; variants?: Array<{ tag: string; env: Record<string, string> }> }>;
export declare const APP: { image: string; v2: string; broken: string };
export declare function cacheDir(): string;
export declare function ensureImages(opts?: { quiet?: boolean }): { rebuilt: string[]; seconds: number };
