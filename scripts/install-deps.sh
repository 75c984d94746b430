#!/usr/bin/env bash
# Installs the missing Debian packages listed in scripts/debian-packages.txt.
# Then installs, from their lock files, the npm packages of the Node packages
# named as arguments: by default the SDK, the end-to-end tests and the demo.
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

# npm ci runs again only when a lock file changed since the last install.
node_packages=("$@")
if [ "${#node_packages[@]}" -eq 0 ]; then node_packages=(sdk/node tests/e2e examples/demo); fi
for dir in "${node_packages[@]}"; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.heavylift-installed"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "install-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
done
