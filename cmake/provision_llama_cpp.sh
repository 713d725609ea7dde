#!/usr/bin/env bash
# Provision llama.cpp for lil's optional llama.cpp component (lil::llama_cpp),
# its tests and its demo, from the npm registry (Debian 12 packages no llama.cpp).
#
#   cmake/provision_llama_cpp.sh [--shared DIR] [--print-prefix]
#
# What it makes, in a cache outside the repository
# (${LIL_LLAMA_CPP_CACHE:-${XDG_CACHE_HOME:-~/.cache}/lil/llama.cpp}):
#   npm/         node-llama-cpp@3.22.1 and @node-llama-cpp/linux-x64@3.22.1 (npm pack)
#   src/         llama.cpp v0.5.0, cloned from the git bundle node-llama-cpp ships
#   v0.5.0/      the prefix lil's CMake option LIL_LLAMA_CPP_DIR points at:
#     include/   llama.h, llama-cpp.h and ggml's public headers
#     lib/       the prebuilt libllama, libggml*, libllama-common and the CPU
#                backend variants (loaded at run time from this folder)
#     bin/       convert-llama2c-to-ggml, compiled here against the prebuilt libraries
#     models/    reasoner.gguf (src/decoder/models) and, when the shared folder has it,
#                stories260K.gguf; llama.context_length set to the checkpoint's seq_len
#                (the converter always writes 128)
#
# Idempotent: every step is skipped when its output is newer than its inputs,
# so a second run only compares timestamps. The GGUFs are made from the
# checkpoints at provisioning time and never committed. Needs npm, git, a C++17
# compiler and Debian's python3-numpy and python3-yaml (for gguf-py).
# Prints the prefix on its last line.
set -euo pipefail

NLC_VERSION=3.22.1
LLAMA_TAG=v0.5.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
shared="${LIL_SHARED_DIR:-$repo/../shared}"
while [ $# -gt 0 ]; do
  case "$1" in
    --shared) shared="$2"; shift 2 ;;
    --print-prefix) print_only=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "provision_llama_cpp: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

cache="${LIL_LLAMA_CPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lil/llama.cpp}"
prefix="$cache/$LLAMA_TAG"
if [ "${print_only:-0}" = 1 ]; then echo "$prefix"; exit 0; fi

say() { echo "provision_llama_cpp: $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { say "needs '$1' ($2)"; exit 1; }; }
need npm "apt-get install npm"
need git "apt-get install git"
cxx="${CXX:-g++}"
need "$cxx" "apt-get install g++"
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
"$py" -c 'import numpy, yaml' 2>/dev/null ||
  { say "gguf-py needs numpy and yaml: apt-get install python3-numpy python3-yaml"; exit 1; }

# newer OUT IN...: true when OUT exists and is newer than every IN
newer() {
  local out="$1"; shift
  [ -e "$out" ] || return 1
  local f
  for f in "$@"; do [ "$f" -nt "$out" ] && return 1; done
  return 0
}

mkdir -p "$cache/npm" "$prefix/include" "$prefix/lib" "$prefix/bin" "$prefix/models"

# 1. the two npm packages (npm pack: no node_modules, no install scripts run)
main_tgz="$cache/npm/node-llama-cpp-$NLC_VERSION.tgz"
bins_tgz="$cache/npm/node-llama-cpp-linux-x64-$NLC_VERSION.tgz"
if [ ! -s "$main_tgz" ] || [ ! -s "$bins_tgz" ]; then
  say "npm pack node-llama-cpp@$NLC_VERSION @node-llama-cpp/linux-x64@$NLC_VERSION"
  (cd "$cache/npm" && npm pack --silent "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION" >/dev/null)
fi

# 2. llama.cpp's sources from the bundle: headers, the converter, gguf-py
if [ ! -f "$cache/src/include/llama.h" ]; then
  say "cloning llama.cpp $LLAMA_TAG from node-llama-cpp's git bundle"
  tmp="$(mktemp -d)"
  tar xzf "$main_tgz" -C "$tmp" package/llama/gitRelease.bundle
  rm -rf "$cache/src"
  git clone --quiet "$tmp/package/llama/gitRelease.bundle" "$cache/src" 2>/dev/null
  rm -rf "$tmp"
fi
if ! newer "$prefix/include/llama.h" "$cache/src/include/llama.h"; then
  cp "$cache/src/include/"*.h "$cache/src/ggml/include/"*.h "$prefix/include/"
fi

# 3. the prebuilt libraries (CPU only; the backends are picked at run time)
if ! newer "$prefix/lib/libllama.v0.5.0.so" "$bins_tgz"; then
  say "unpacking the prebuilt linux-x64 libraries"
  tmp="$(mktemp -d)"
  tar xzf "$bins_tgz" -C "$tmp"
  cp "$tmp/package/bins/linux-x64/"*.so "$prefix/lib/"
  rm -rf "$tmp"
  touch "$prefix/lib/"*.so
fi

# 4. the converter, against the prebuilt libraries (it needs ggml_set_f32_nd,
#    which lives in the CPU backend: link the baseline x86-64 variant)
conv_src="$cache/src/examples/convert-llama2c-to-ggml/convert-llama2c-to-ggml.cpp"
conv="$prefix/bin/convert-llama2c-to-ggml"
if ! newer "$conv" "$conv_src" "$prefix/lib/libllama.v0.5.0.so"; then
  say "compiling convert-llama2c-to-ggml"
  "$cxx" -O1 -std=c++17 -w -I"$cache/src/include" -I"$cache/src/ggml/include" -I"$cache/src/common" \
    -I"$cache/src/vendor" "$conv_src" -o "$conv" -L"$prefix/lib" \
    -l:libllama-common.so -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so \
    -l:libggml-cpu-x64.so -Wl,-rpath,'$ORIGIN/../lib'
fi

# 5. GGUFs from llama2.c checkpoints, context length fixed
gguf_from() {  # name checkpoint tokenizer
  local name="$1" ckpt="$2" tok="$3" out="$prefix/models/$1.gguf"
  newer "$out" "$ckpt" "$tok" "$conv" && return 0
  say "converting $name"
  local log="$prefix/models/$name.convert.log"
  "$conv" --copy-vocab-from-model "$tok" --llama2c-model "$ckpt" --llama2c-output-model "$out.tmp" >"$log" 2>&1 ||
    { say "conversion of $name failed, see $log"; rm -f "$out.tmp"; exit 1; }
  # llama2.c's header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq_len
  local seq_len
  seq_len="$("$py" -c 'import struct,sys; print(struct.unpack("7i", open(sys.argv[1],"rb").read(28))[6])' "$ckpt")"
  PYTHONPATH="$cache/src/gguf-py" "$py" "$cache/src/gguf-py/gguf/scripts/gguf_set_metadata.py" --force \
    "$out.tmp" llama.context_length "$seq_len" >>"$log" 2>&1 ||
    { say "setting llama.context_length of $name failed, see $log"; rm -f "$out.tmp"; exit 1; }
  mv "$out.tmp" "$out"
}
gguf_from reasoner "$repo/src/decoder/models/reasoner.bin" "$repo/src/decoder/models/reasoner_tok.bin"
s260="$shared/models/stories260K"
if [ -f "$s260/stories260K.bin" ] && [ -f "$s260/tok512.bin" ]; then
  gguf_from stories260K "$s260/stories260K.bin" "$s260/tok512.bin"
else
  say "no $s260/stories260K.bin: stories260K.gguf not made"
fi

echo "$prefix"
