#!/bin/sh
# Deploys the component that `npm run package` built (greengrass-build/) to the Greengrass nucleus
# on this device, without the cloud: `greengrass-cli deployment create` on the Java nucleus,
# `ggl-cli deploy` on nucleus lite. Run it on the core, as root (the CLIs talk to the nucleus
# over its IPC socket, and nucleus lite's unpacked artifacts belong to it).
set -eu

component=com.deploywitness.Agent

usage() {
  cat <<EOF
Usage: deploy-local.sh [--build DIR] [--nucleus java|lite] [--root DIR] [--cli PATH]
                       [--update-config JSON]

Deploys $component from DIR (default: greengrass-build next to this script's folder) to
the nucleus on this device.

  --build DIR           what npm run package wrote: DIR/recipes/$component-<version>.yaml
                        and DIR/artifacts/$component/<version>/*.zip; it must stay in place
                        until the deployment is done (the nucleus copies from it then)
  --nucleus java|lite   which nucleus (default: greengrass-cli found means java, ggl-cli lite)
  --root DIR            the nucleus root (default /greengrass/v2 for java, /var/lib/greengrass
                        for nucleus lite)
  --cli PATH            the CLI to use (default: <root>/bin/greengrass-cli or greengrass-cli on
                        the PATH; ggl-cli on the PATH for nucleus lite)
  --update-config JSON  configuration to merge, as greengrass-cli takes it, e.g.
                        '{"$component":{"MERGE":{"root":"/core"}}}' (Java nucleus only)

Nucleus lite unpacks a ZIP artifact only when a cloud deployment downloads it: for a local
deployment this script unpacks this device's zip where the recipe expects it, with unzip or
python3.
EOF
}

die() {
  echo "deploy-local.sh: $*" >&2
  exit 2
}

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
build="$here/../greengrass-build"
nucleus=""
root=""
cli=""
update_config=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) [ $# -ge 2 ] || die "--build needs a folder"; build=$2; shift 2 ;;
    --nucleus) [ $# -ge 2 ] || die "--nucleus needs java or lite"; nucleus=$2; shift 2 ;;
    --root) [ $# -ge 2 ] || die "--root needs a folder"; root=$2; shift 2 ;;
    --cli) [ $# -ge 2 ] || die "--cli needs a path"; cli=$2; shift 2 ;;
    --update-config) [ $# -ge 2 ] || die "--update-config needs JSON"; update_config=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
case $nucleus in ''|java|lite) ;; *) die "--nucleus must be java or lite, not $nucleus" ;; esac

[ -d "$build" ] || die "$build is not a folder: run npm run package first (or give --build)"
build=$(CDPATH='' cd -- "$build" && pwd)

# The one built recipe names the version.
recipe=""
for f in "$build/recipes/$component-"*.yaml; do
  [ -f "$f" ] || continue
  [ -z "$recipe" ] || die "more than one recipe of $component in $build/recipes: build again"
  recipe=$f
done
[ -n "$recipe" ] || die "no $component-<version>.yaml in $build/recipes: run npm run package first"
version=${recipe##*/$component-}
version=${version%.yaml}
artifacts="$build/artifacts"
[ -d "$artifacts/$component/$version" ] || die "no artifacts in $artifacts/$component/$version"

if [ -z "$nucleus" ]; then
  if [ -n "$cli" ]; then
    case ${cli##*/} in ggl-cli) nucleus=lite ;; *) nucleus=java ;; esac
  elif [ -x "${root:-/greengrass/v2}/bin/greengrass-cli" ] || command -v greengrass-cli >/dev/null 2>&1; then
    nucleus=java
  elif command -v ggl-cli >/dev/null 2>&1; then
    nucleus=lite
  else
    die "no Greengrass CLI found: neither ${root:-/greengrass/v2}/bin/greengrass-cli, greengrass-cli nor ggl-cli (deploy aws.greengrass.Cli to the Java nucleus first, or give --cli)"
  fi
fi

# Only this recipe: the nucleus takes every recipe in the folder, and reads it when the
# deployment runs, after this script is done, so the folder stays.
staged="${TMPDIR:-/tmp}/deploy-witness-recipes-$version"
rm -rf "$staged"
mkdir -p "$staged"
cp "$recipe" "$staged/"
chmod 755 "$staged"
chmod 644 "$staged/${recipe##*/}"

if [ "$nucleus" = java ]; then
  root=${root:-/greengrass/v2}
  if [ -z "$cli" ]; then
    if [ -x "$root/bin/greengrass-cli" ]; then cli="$root/bin/greengrass-cli"; else cli=$(command -v greengrass-cli) || die "greengrass-cli not found"; fi
  fi
  set -- deployment create --recipeDir "$staged" --artifactDir "$artifacts" --merge "$component=$version"
  if [ -n "$update_config" ]; then set -- "$@" --update-config "$update_config"; fi
  echo "deploy-local.sh: $cli $*"
  "$cli" "$@"
  echo "deploy-local.sh: queued; follow it with: $cli deployment list, and $root/logs/$component.log"
else
  root=${root:-/var/lib/greengrass}
  [ -z "$update_config" ] || die "--update-config: ggl-cli takes no configuration; set services.$component.configuration in nucleus lite's config, or deploy from the cloud with a configuration merge"
  if [ -z "$cli" ]; then cli=$(command -v ggl-cli) || die "ggl-cli not found"; fi
  case $(uname -m) in
    aarch64|arm64) arch=arm64 ;;
    x86_64|amd64) arch=x64 ;;
    *) die "no package for $(uname -m): deploy-witness needs a 64-bit core (aarch64 or x86_64)" ;;
  esac
  name="deploy-witness-linux-$arch"
  zip="$artifacts/$component/$version/$name.zip"
  [ -f "$zip" ] || die "$zip is missing: npm run package -- --arch $arch"
  # Where the recipe's run script looks: {artifacts:decompressedPath}/<zip name>/.
  dest="$root/packages/artifacts-unarchived/$component/$version/$name"
  rm -rf "$dest"
  mkdir -p "$dest"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" -d "$dest"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -m zipfile -e "$zip" "$dest"
  else
    die "cannot unpack $zip: install unzip (or python3)"
  fi
  chmod 755 "$dest/bin/deploy-witness"
  set -- deploy --recipe-dir "$staged" --artifacts-dir "$artifacts" --add-component "$component=$version"
  echo "deploy-local.sh: $cli $*"
  "$cli" "$@"
  echo "deploy-local.sh: queued; follow it with: journalctl -a -f -t ggdeploymentd -t $component"
fi
