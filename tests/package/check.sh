#!/usr/bin/env bash
# Builds and runs tests/package as a separate project against lil.
#   check.sh find_package  <lil build dir> <lil source dir> <scratch dir>
#   check.sh subdirectory  <lil build dir> <lil source dir> <scratch dir>
#   check.sh pkg-config    <lil build dir> <lil source dir> <scratch dir>
set -euo pipefail
mode=$1 build=$2 source=$3 scratch=$4
rm -rf "$scratch" && mkdir -p "$scratch"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
case "$mode" in
  find_package)
    cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
    cmake -S "$source/tests/package" -B "$scratch/consumer" "${gen[@]}" -DLIL_CONSUMER_MODE=find_package \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
    cmake --build "$scratch/consumer" >/dev/null
    "$scratch/consumer/consumer"
    if [ -x "$scratch/consumer/consumer_c" ]; then "$scratch/consumer/consumer_c"; fi
    ;;
  subdirectory)
    cmake -S "$source/tests/package" -B "$scratch/consumer" "${gen[@]}" -DLIL_CONSUMER_MODE=subdirectory \
      -DLIL_SOURCE_DIR="$source" >/dev/null
    cmake --build "$scratch/consumer" >/dev/null
    "$scratch/consumer/consumer"
    ;;
  pkg-config)
    cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
    flags=$(PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig:$scratch/prefix/lib/x86_64-linux-gnu/pkgconfig" \
      pkg-config --cflags --libs lil)
    # shellcheck disable=SC2086
    c++ -std=c++17 "$source/tests/package/consumer.cpp" -o "$scratch/consumer_pc" $flags
    "$scratch/consumer_pc"
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "package check ($mode): ok"
