#!/bin/sh
# Builds the Greengrass component (greengrass-build/): a thin wrapper around `npm run package`
# (scripts/package.ts), which compiles the agent and packs it from the installed node_modules.
# Arguments go through: --arch arm64,x64 --bucket NAME --out DIR (see --help).
set -eu
cd "$(dirname "$0")/.."
exec npm run --silent package -- "$@"
