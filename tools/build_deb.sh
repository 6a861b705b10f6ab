#!/bin/sh
# Build the Debian package from the files git tracks (as they are in the work tree), with
# Debian's own python3 (not a python3 that PATH may put first), into DIR (default: dist/).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$here/dist}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/src"
(cd "$here" && git ls-files -z | tar --null -T - -c) | tar -x -C "$work/src"
cd "$work/src"
PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1 || {
    tail -40 "$work/build.log"; exit 1; }
cp "$work"/*.deb "$out"/
ls "$out"/*.deb
