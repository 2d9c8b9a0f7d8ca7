// Build app/static/vendor/bootstrap/: Bootstrap's CSS with only the selectors the app's
// templates, Python files and own scripts name (PurgeCSS), Bootstrap's JS (no Popper),
// its LICENSE, VERSION and classes.txt (the classes with a rule of their own in the full CSS, for tests/common/test_static.py).
// Run from the repository root: `make css` (npm ci --prefix tools/css && node tools/css/build.mjs).
import { readFileSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PurgeCSS } from "purgecss";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const dist = join(here, "node_modules", "bootstrap", "dist");
const out = join(root, "app", "static", "vendor", "bootstrap");
const version = JSON.parse(readFileSync(join(here, "node_modules", "bootstrap", "package.json"), "utf8")).version;

// What the app can name: keep in step with CONTENT_GLOBS of tests/common/test_static.py.
const content = ["app/templates/**/*.html", "app/**/*.py", "app/static/js/**/*.js"].map((g) => join(root, g));
// Classes built from a variable in a template (alert-{{ category }}, text-bg-{{ state }}) and the
// states Bootstrap's JS sets.
const colours = "(primary|secondary|success|danger|warning|info|light|dark)";
const safelist = {
  standard: ["show", "collapsing", "collapse", "fade"],
  deep: [],
  greedy: [new RegExp(`^alert-${colours}$`), new RegExp(`^text-bg-${colours}$`), new RegExp(`^bg-${colours}$`),
           new RegExp(`^btn-(outline-)?${colours}$`)],
};

const full = readFileSync(join(dist, "css", "bootstrap.min.css"), "utf8");
const [result] = await new PurgeCSS().purge({
  content,
  css: [{ raw: full }],
  safelist,
  fontFace: true,
  keyframes: true,
  variables: true,
  // Bootstrap's own selectors use these elements and attributes.
  defaultExtractor: (text) => text.match(/[A-Za-z0-9_-]+/g) || [],
});
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "bootstrap.min.css"), result.css.replace(/\/\*# sourceMappingURL=.*?\*\//g, "") + "\n");
copyFileSync(join(dist, "js", "bootstrap.min.js"), join(out, "bootstrap.min.js"));
copyFileSync(join(here, "node_modules", "bootstrap", "LICENSE"), join(out, "LICENSE"));
// Classes with a rule of their own (the only class of some selector): a page naming one needs it built.
const classes = new Set();
const bare = full.replace(/\/\*[\s\S]*?\*\//g, "").replace(/url\([^)]*\)/g, "");
for (const [, selectors] of bare.matchAll(/([^{}]+)\{/g)) {
  for (const selector of selectors.split(",")) {
    const named = [...selector.matchAll(/\.(-?[A-Za-z_][A-Za-z0-9_-]*)/g)].map((m) => m[1]);
    if (named.length === 1) classes.add(named[0]);
  }
}
writeFileSync(join(out, "classes.txt"), [...classes].sort().join("\n") + "\n");
writeFileSync(join(out, "VERSION"),
  `bootstrap ${version} from npm; purgecss ${JSON.parse(readFileSync(join(here, "node_modules", "purgecss", "package.json"), "utf8")).version}\n` +
  "built by: make css  (npm ci --prefix tools/css && node tools/css/build.mjs)\n");
console.log(`bootstrap.min.css: ${full.length} -> ${result.css.length} bytes`);
