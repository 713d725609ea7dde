// Writes js-tiktoken's cl100k table as a tiktoken ranks file and the cl100k ids
// of each trace (scripts/fetch_js_tiktoken.sh). Node, CommonJS.
const fs = require("fs");
const path = require("path");
const [cache, tracesDir, ...files] = process.argv.slice(2);
const mod = (p) => require(path.join(cache, "node_modules", p));
const { Tiktoken } = mod("js-tiktoken/dist/lite.cjs");
const ranksModule = mod("js-tiktoken/dist/ranks/cl100k_base.cjs");
const enc = new Tiktoken(ranksModule.default || ranksModule);
const lines = [];
for (const [rank, bytes] of enc.textMap) lines.push(Buffer.from(bytes).toString("base64") + " " + rank);
fs.writeFileSync(path.join(cache, "cl100k_base.tiktoken"), lines.join("\n") + "\n");
for (const file of files) {
  const out = [];
  for (const line of fs.readFileSync(path.join(tracesDir, file), "utf8").split("\n")) {
    if (!line.trim()) continue;
    // Special-token spellings inside a trace are text, as in the trace.
    out.push(enc.encode(JSON.parse(line).response, [], []).join(" "));
  }
  fs.writeFileSync(path.join(cache, "cl100k", file.replace(/\.jsonl$/, ".ids")), out.join("\n") + "\n");
}
