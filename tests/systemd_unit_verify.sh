#!/bin/sh
# systemd-analyze verify on systemd/hearth.service, with ExecStart pointed at the built hearthd
# (verify checks that the program exists). Skips (77) where systemd-analyze is not installed.
set -e
command -v systemd-analyze >/dev/null || { echo "no systemd-analyze: skipped"; exit 77; }
src="$1"; bin="$2"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
sed "s#/usr/bin/hearthd#$bin/hearthd#" "$src/systemd/hearth.service" > "$dir/hearth.service"
out=$(systemd-analyze verify "$dir/hearth.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings; treat any output about the unit as a failure.
if echo "$out" | grep -q "hearth.service"; then echo "$out"; exit 1; fi
echo "systemd-analyze verify: clean"
