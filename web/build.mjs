// Builds the source page: web/src/page.js bundled by esbuild (every dependency inside),
// inlined with the CSS into web/src/page.html, written to web/dist/page.html. The hashes
// of the one script and the one style go to web/dist/page.json for the Content-Security-
// Policy (api/page.py, client/page_cli.py). Two placeholders stay for the server or
// `tvault page build` to fill: __TVAULT_CSP_META__ and __TVAULT_CONFIG__; neither changes
// the hashed script or style.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const bundled = await build({
  entryPoints: [join(here, "src", "page.js")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2020", "chrome90", "firefox90", "safari14"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  write: false,
  supported: { bigint: true },
});
const script = bundled.outputFiles[0].text.trim();
const style = readFileSync(join(here, "src", "page.css"), "utf8").trim();
if (/<\/(script|style)/iu.test(script) || /<\/style/iu.test(style)) throw new Error("the bundle closes its own tag");
const hash = (text) => `sha256-${createHash("sha256").update(text, "utf8").digest("base64")}`;
const template = readFileSync(join(here, "src", "page.html"), "utf8");
const page = template.replace("__TVAULT_STYLE__", () => style).replace("__TVAULT_SCRIPT__", () => script);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "page.html"), page);
writeFileSync(join(out, "page.json"), `${JSON.stringify({ script: hash(script), style: hash(style) })}\n`);
console.log(`web/dist/page.html: ${page.length} bytes`);
