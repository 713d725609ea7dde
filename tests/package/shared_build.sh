#!/usr/bin/env bash
# lil as a shared library (BUILD_SHARED_LIBS=ON): built and installed apart,
# it must export its API and nothing else, and a consumer must build and run
# against it. Usage: shared_build.sh <lil source dir> <scratch dir> <generator>
set -euo pipefail
source=$1 scratch=$2 generator=$3
rm -rf "$scratch" && mkdir -p "$scratch"
cmake -S "$source" -B "$scratch/lil" -G "$generator" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DLIL_BUILD_TESTS=OFF -DLIL_BUILD_BENCH=OFF -DLIL_BUILD_EXAMPLES=OFF -DLIL_BUILD_CLI=OFF \
  -DLIL_BUILD_PYTHON=OFF -DCMAKE_INSTALL_PREFIX="$scratch/prefix" >/dev/null
cmake --build "$scratch/lil" >/dev/null
cmake --install "$scratch/lil" >/dev/null
lib=$(find "$scratch/prefix" -name 'liblil.so.*' -type f | head -n 1)
[ -n "$lib" ] || { echo "shared build: no liblil.so installed" >&2; exit 1; }
exported=$(nm -D --defined-only -C "$lib")
# The API is there...
for sym in 'lil::deflate::compressor::size_if_finished' 'lil::deflate::deflate_size' 'lil::detail::throw_error'; do
  grep -q "$sym" <<<"$exported" || { echo "shared build: $sym is not exported" >&2; exit 1; }
done
# ...and the engine's private pieces are not.
for sym in 'build_code_lengths' 'plan_block' 'write_block'; do
  if grep -q "$sym" <<<"$exported"; then echo "shared build: private $sym is exported" >&2; exit 1; fi
done
libdir=$(dirname "$lib")
LD_LIBRARY_PATH="$libdir" ctest --build-and-test "$source/tests/package" "$scratch/consumer" \
  --build-generator "$generator" --build-options -DLIL_CONSUMER_MODE=find_package \
  -DCMAKE_PREFIX_PATH="$scratch/prefix" --test-command ctest --output-on-failure
echo "shared build: API exported, internals hidden, consumer runs"
