#!/usr/bin/env bash
# Installs the missing Debian packages listed in scripts/debian-packages.txt
# and builds FerretDB into build/tools. Then installs, from their lock
# files, the npm packages of the Node packages named as arguments: by
# default the SDK, the end-to-end tests, the CLI demo and the MERN app.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
while read -r package; do
  case "$package" in ''|'#'*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done < scripts/debian-packages.txt

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# FerretDB, the MongoDB wire-protocol server that the tests use, is not
# packaged for Debian, so it is built from its Go module into build/tools.
# The module leaves out build/version/version.txt, and FerretDB panics at
# start without it. The source is therefore copied out of the module cache
# and the file written before building.
FERRETDB_VERSION="v1.24.2"
ferretdb_bin="$repo_root/build/tools/ferretdb"
if [ ! -x "$ferretdb_bin" ] || [ "$(cat "$ferretdb_bin.version" 2>/dev/null)" != "$FERRETDB_VERSION" ]; then
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  if [ ! -x "$go_bin" ]; then
    echo "install-deps: Go is needed to build FerretDB $FERRETDB_VERSION but no go binary was found" >&2
    exit 1
  fi
  echo "install-deps: building FerretDB $FERRETDB_VERSION with $("$go_bin" version)"
  module_dir="$(cd /tmp && "$go_bin" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [ -z "$module_dir" ] || [ ! -d "$module_dir" ]; then
    echo "install-deps: go mod download of FerretDB $FERRETDB_VERSION failed" >&2
    exit 1
  fi
  source_dir="$(mktemp -d)"
  cp -r "$module_dir/." "$source_dir"
  chmod -R u+w "$source_dir"
  echo "$FERRETDB_VERSION" > "$source_dir/build/version/version.txt"
  mkdir -p "$repo_root/build/tools"
  (cd "$source_dir" && "$go_bin" build -o "$ferretdb_bin" ./cmd/ferretdb)
  rm -rf "$source_dir"
  "$ferretdb_bin" --version > /dev/null
  echo "$FERRETDB_VERSION" > "$ferretdb_bin.version"
fi

# npm ci runs again only when a lock file changed since the last install.
node_packages=("$@")
if [ "${#node_packages[@]}" -eq 0 ]; then node_packages=(sdk/node tests/e2e examples/demo examples/mern-app); fi
for dir in "${node_packages[@]}"; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.heavylift-installed"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "install-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
done
