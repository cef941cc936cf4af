#!/usr/bin/env bash
# Builds the Greengrass component: greengrass-build/artifacts/<name>/<version>/deploy-witness.zip
# (built code + production node_modules; aws-crt ships arm64 and x64 binaries) and the recipe
# with the artifact URI pointing at it, for `greengrass-cli deployment create`.
set -euo pipefail
cd "$(dirname "$0")/.."
name=com.deploywitness.Agent
version=$(node -p "require('./package.json').version")
out=greengrass-build
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

npm run build --silent
mkdir -p "$stage/deploy-witness"
cp -r dist package.json package-lock.json schema "$stage/deploy-witness/"
(cd "$stage/deploy-witness" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
rm -rf "$out" && mkdir -p "$out/artifacts/$name/$version" "$out/recipes"
(cd "$stage" && zip -qr - deploy-witness) > "$out/artifacts/$name/$version/deploy-witness.zip"
sed -e "s|^ComponentVersion: .*|ComponentVersion: '$version'|" \
    -e "s|URI: s3://BUCKET/.*|URI: file:///deploy-witness.zip|" recipe.yaml > "$out/recipes/$name-$version.yaml"
echo "component $name $version in $out/"
