// Render TeX to HTML with the site's vendored KaTeX, for docs/hooks/speed.py.
// Usage: node katex_render.cjs PATH/TO/katex.min.js < [[tex, display], ...] (JSON)
// Prints a JSON list with one HTML string per formula, in order. A formula KaTeX
// cannot parse stops the build (throwOnError), as it would fail in the browser.
"use strict";
const katex = require(process.argv[2]);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(([tex, display]) =>
    katex.renderToString(tex, { displayMode: display, throwOnError: true }));
  process.stdout.write(JSON.stringify(out));
});
