// `process` for the bundled packages' Node checks (chalk's supports-color reads process.argv
// and env), scoped to the bundle by esbuild's `inject` as webpack's polyfill was for Plutono.
export const process = { env: { NODE_ENV: 'development' }, argv: [], browser: true, platform: 'browser', versions: {} };
