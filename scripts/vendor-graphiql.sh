#!/usr/bin/env bash
# Reproduces assets/graphiql/ from the npm registry: the GraphiQL UMD bundle
# and stylesheet, and the React UMD production builds it runs on, at pinned
# versions. The gateway embeds these files (src/server/graphiql.rs), so the
# GraphiQL page works with no internet. Needs node/npm; touches nothing
# outside assets/graphiql/ but a temporary folder.
#
# After changing a version here, change the file names in
# src/server/graphiql.rs too (the version is part of each URL, which is what
# lets browsers cache the files forever).
set -euo pipefail

GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/assets/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" >/dev/null
mkdir -p graphiql react react-dom
tar xzf "graphiql-$GRAPHIQL_VERSION.tgz" -C graphiql
tar xzf "react-$REACT_VERSION.tgz" -C react
tar xzf "react-dom-$REACT_VERSION.tgz" -C react-dom

mkdir -p "$out"
# The bundle ends with a sourceMappingURL comment for a map we do not ship;
# dropping it spares browsers' dev tools a request that can only 404.
sed '/^\/\/# sourceMappingURL=/d' graphiql/package/graphiql.min.js >"$out/graphiql-$GRAPHIQL_VERSION.min.js"
cp graphiql/package/graphiql.min.css "$out/graphiql-$GRAPHIQL_VERSION.min.css"
cp react/package/umd/react.production.min.js "$out/react-$REACT_VERSION.production.min.js"
cp react-dom/package/umd/react-dom.production.min.js "$out/react-dom-$REACT_VERSION.production.min.js"

# Pre-compressed copies, served to browsers that accept gzip (-n: no name or
# time stamp inside, so reruns give identical bytes).
for f in "graphiql-$GRAPHIQL_VERSION.min.js" "graphiql-$GRAPHIQL_VERSION.min.css" \
  "react-$REACT_VERSION.production.min.js" "react-dom-$REACT_VERSION.production.min.js"; do
  gzip -9 -n -c "$out/$f" >"$out/$f.gz"
done

# The licenses travel with the code.
cp graphiql/package/LICENSE "$out/LICENSE.graphiql"
cp react/package/LICENSE "$out/LICENSE.react"
cp react-dom/package/LICENSE "$out/LICENSE.react-dom"

for pkg in graphiql react react-dom; do
  node -e 'const p=require(process.argv[1]); console.log(`${p.name}@${p.version} ${p.license}`)' "$work/$pkg/package/package.json"
done
ls -l "$out"
