// Templates are imported as text: vite/vitest handle `?raw` natively, scripts/build.mjs does for esbuild.
declare module '*?raw' {
  const text: string;
  export default text;
}
