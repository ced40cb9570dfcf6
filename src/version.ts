// Replaced at build time by scripts/build.mjs (define); tests read package.json's version the same way.
declare const __HA_GEN_VERSION__: string | undefined;
export const VERSION: string = typeof __HA_GEN_VERSION__ === 'string' ? __HA_GEN_VERSION__ : '0.1.0';
