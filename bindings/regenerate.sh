#!/usr/bin/env bash
# Regenerates the FFM bindings of native/include/lookupffn.h into bindings/dev/lookupffn/ffi/gen/.
# Re-run whenever lookupffn.h changes; BindingsConsistencyTest fails until you do.
#
# Prerequisite: jextract 22+ (https://jdk.java.net/jextract/, tested layout: jextract 22) on PATH.
# jextract is not obtainable from this project's package registries, so where it is missing this script
# falls back to bindings/jextract_emulator.py, which writes the same layout jextract 22 writes for this
# header (one holder class per function with DESC/ADDR/HANDLE, $descriptor/$handle/$address accessors,
# static wrappers, enum constants as int getters).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/bindings"
header="$root/native/include/lookupffn.h"

if command -v jextract >/dev/null 2>&1; then
  rm -rf "$out/dev/lookupffn/ffi/gen"
  # No -l: the symbols are found through SymbolLookup.loaderLookup() once dev.lookupffn.ffi.NativeLibrary
  # has loaded liblookupffn (from the jar, or -Dlookupffn.library.path).
  jextract --output "$out" \
    --target-package dev.lookupffn.ffi.gen \
    --header-class-name lookupffn_h \
    --include-dir "$root/native/include" \
    @"$root/bindings/jextract-includes.txt" \
    "$header"
else
  echo "jextract not found: using bindings/jextract_emulator.py" >&2
  python3 "$root/bindings/jextract_emulator.py" "$header" "$out/dev/lookupffn/ffi/gen/lookupffn_h.java"
fi
