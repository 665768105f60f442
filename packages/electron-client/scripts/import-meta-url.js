// Injected by scripts/build.ts into the CommonJS builds, and kept only in those that use `import.meta.url`
// (unused, the pure expression is dropped): a sandboxed preload must require nothing but electron.
export const importMetaUrl = /* @__PURE__ */ (() => require('node:url').pathToFileURL(__filename).href)();
