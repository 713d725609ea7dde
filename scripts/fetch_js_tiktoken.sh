#!/bin/bash
# Test setup for the byte-level BPE vocabulary test (tests/guardian_vocabulary_traces_test.cpp):
# fetches the npm package js-tiktoken (and its one dependency, base64-js) with `npm pack` into a
# cache outside the repository, then, with js-tiktoken's own code (node):
#   - writes its cl100k ranks as a tiktoken ranks file (cl100k_base.tiktoken, "<base64> <rank>");
#   - encodes every shared trace with its cl100k encoder: one line of ids per trace (cl100k/<file>.ids).
# Usage: scripts/fetch_js_tiktoken.sh [SHARED_DIR] [CACHE_DIR]
#   SHARED_DIR default ../shared beside the checkout; CACHE_DIR default ~/.cache/lil/js-tiktoken.
# Then re-run CMake (-DLIL_TIKTOKEN_DIR=CACHE_DIR if not the default) to register the test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${1:-$(cd "$here/../.." && pwd)/shared}
cache=${2:-${LIL_TIKTOKEN_DIR:-$HOME/.cache/lil/js-tiktoken}}
JS_TIKTOKEN_VERSION=1.0.21
BASE64_JS_VERSION=1.5.1
mkdir -p "$cache/node_modules"
cd "$cache"
for spec in "js-tiktoken@$JS_TIKTOKEN_VERSION" "base64-js@$BASE64_JS_VERSION"; do
  name=${spec%@*}
  if [ ! -f "node_modules/$name/package.json" ]; then
    tgz=$(npm pack --silent "$spec")
    rm -rf "node_modules/$name" && mkdir -p "node_modules/$name"
    tar -xzf "$tgz" -C "node_modules/$name" --strip-components=1
  fi
done
mkdir -p cl100k
node "$here/js_tiktoken_export.cjs" "$cache" "$shared/data/traces" \
  qwq32b_math500.jsonl qwen25math_math100x8.jsonl
echo "js-tiktoken $JS_TIKTOKEN_VERSION: $cache/cl100k_base.tiktoken and $cache/cl100k/*.ids"
