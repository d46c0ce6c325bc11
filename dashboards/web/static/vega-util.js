// The three vega-util functions vega-interpreter imports, from the vendored Vega bundle (its global `vega`), so
// that the interpreter runs without a bundler (the import map in week.html maps 'vega-util' here).
const vega = globalThis.vega;
export const ascending = vega.ascending;
export const isString = vega.isString;
export const DisallowedObjectProperties = vega.DisallowedObjectProperties;
