#!/bin/sh
# Starts deploy-witness from an unpacked package (bin/deploy-witness in the zip): what the
# Greengrass recipe and the systemd unit run. POSIX sh, so that a core without Node.js, or with
# one too old for the agent, gets a plain answer instead of a stack trace or a syntax error.
# The checks that need Node.js itself (its version, the aws-crt binary) are in preflight.cjs.
# Only shell built-ins until node is found: the PATH may be all wrong.
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(CDPATH='' cd -- "$here" && pwd) || exit 2
if ! command -v node >/dev/null 2>&1; then
  echo "deploy-witness: Node.js (node) is not on the PATH ($PATH). Install Node.js 20.19 or newer where the user that runs deploy-witness finds it (for Greengrass: the PATH of the nucleus; for example /usr/bin or /usr/local/bin)." >&2
  exit 2
fi
exec node "$here/preflight.cjs" "$@"
