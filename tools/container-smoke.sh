#!/usr/bin/env bash
# Runs the container entrypoint as the image runs it, without Docker, on inputs-example/ with the
# test models:
#   - the files of /opt/balaitous are those that the Dockerfile's runtime stage copies from its
#     build stage (production node_modules, dist/src, bin, schemas, tools), with the test models
#     in place of the published ones;
#   - the command is the image's ENTRYPOINT with its BALAITOUS_MODELS, run as uid 1001 in a root
#     file system of its own (chroot). /input is mounted read-only and /output is writable by the
#     user only, and a new network namespace has no interface up.
# The outputs are compared with expected-outputs/. Needs root (for unshare, mount and chroot),
# util-linux, npm with the packages of package-lock.json in its cache or the npm registry, and a
# build (npm run build). Differences from the image: the host's node binary and libraries, no
# CUDA libraries and no GPU.
#
# Usage: tools/container-smoke.sh [WORK_DIR]    (default: a new folder under ${TMPDIR:-/tmp})
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile=$root/Dockerfile
user_id=1001
# Largest difference from expected-outputs/ allowed, for CPU-specific rounding.
tolerance=1e-5

if [[ $(id -u) -ne 0 ]]; then
  echo "container-smoke: run as root: unshare, mount and chroot need it (the entrypoint itself runs as uid $user_id)" >&2
  exit 2
fi
if [[ ! -f $root/dist/src/cli.js ]]; then
  echo "container-smoke: $root/dist/src/cli.js not found; run 'npm run build' first" >&2
  exit 2
fi

work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/balaitous-container.XXXXXX")}
mkdir -p "$work"
echo "container-smoke: working in $work" >&2

# 1. The contents of /opt/balaitous in the build stage.
build=$work/build-stage
rm -rf "$build"
mkdir -p "$build/tools"
cp "$root/package.json" "$root/package-lock.json" "$build/"
(cd "$build" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
rm -rf "$build"/node_modules/onnxruntime-node/bin/napi-v6/{darwin,win32,linux/arm64}
mkdir -p "$build/dist"
cp -r "$root/dist/src" "$build/dist/src"
cp -r "$root/bin" "$root/schemas" "$build/"
cp "$root/tools/check-gpu.mjs" "$build/tools/"
cp -r "$root/test/fixtures/models" "$build/models"

# 2. The runtime stage: only the paths its COPY --from=build lines name.
app=$work/opt/balaitous
rm -rf "$app"
mkdir -p "$app"
copies=$(sed -n 's|^COPY --from=build /opt/balaitous/\([^ ]*\) /opt/balaitous/.*$|\1|p' "$dockerfile")
if [[ -z $copies ]]; then
  echo "container-smoke: no 'COPY --from=build /opt/balaitous/...' line found in $dockerfile" >&2
  exit 1
fi
for source in $copies; do
  source=${source%/}
  mkdir -p "$app/$(dirname "$source")"
  cp -r "$build/$source" "$app/$source"
done
chmod -R a+rX,go-w "$app"

entrypoint=$(sed -n 's/^ENTRYPOINT \[\(.*\)\]$/\1/p' "$dockerfile" | tr -d '",')
models_env=$(sed -n 's/^ENV BALAITOUS_MODELS=\(.*\)$/\1/p' "$dockerfile")
if [[ -z $entrypoint || -z $models_env ]]; then
  echo "container-smoke: ENTRYPOINT or ENV BALAITOUS_MODELS not found in $dockerfile" >&2
  exit 1
fi

# 3. /input as a read-only copy of inputs-example, /output owned by the user.
rm -rf "$work/input" "$work/output" "$work/rootfs"
cp -r "$root/inputs-example" "$work/input"
mkdir -p "$work/output" "$work/rootfs"
chown "$user_id:$user_id" "$work/output"

# 4. A root file system of its own: the host's system folders, the package, /input, /output.
# shellcheck disable=SC2016 # expanded by the inner shell
inner='
set -euo pipefail
mount --make-rprivate /
mount -t tmpfs tmpfs "$R"
for entry in /bin /sbin /lib /lib32 /lib64 /libx32 /usr /etc; do
  if [[ -L $entry ]]; then
    ln -s "$(readlink "$entry")" "$R$entry"
  elif [[ -d $entry ]]; then
    mkdir -p "$R$entry"
    mount --rbind "$entry" "$R$entry"
  fi
done
mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/opt/balaitous" "$R/input" "$R/output" "$R/home/user"
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
chmod 1777 "$R/tmp"
chown "$USER_ID:$USER_ID" "$R/home/user"
mount --bind "$APP" "$R/opt/balaitous"
mount -o remount,bind,ro "$R/opt/balaitous"
mount --bind "$INPUT" "$R/input"
mount -o remount,bind,ro "$R/input"
mount --bind "$OUTPUT" "$R/output"

run_as_user() {
  chroot "$R" setpriv --reuid="$USER_ID" --regid="$USER_ID" --clear-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/user BALAITOUS_MODELS="$MODELS_ENV" "$@"
}
# /proc/net lists the interfaces of the reading process'"'"'s network namespace.
echo "network interfaces: $(awk -F: "NR > 2 { gsub(/ /, \"\", \$1); printf \"%s \", \$1 }" /proc/net/dev)(lo: $(ip -o link show lo 2>/dev/null | grep -o "state [A-Z]*" || echo "state unknown"))"
echo "user: $(run_as_user id)"
if run_as_user sh -c "touch /input/probe" 2>/dev/null; then
  echo "container-smoke: /input is writable, expected read-only" >&2
  exit 1
fi
echo "/input: read-only (touch failed)"
echo "command: $ENTRYPOINT"
run_as_user $ENTRYPOINT
'
status=0
R=$work/rootfs APP=$app INPUT=$work/input OUTPUT=$work/output USER_ID=$user_id MODELS_ENV=$models_env \
  ENTRYPOINT=$entrypoint unshare --mount --net --pid --fork bash -c "$inner" || status=$?
if [[ $status -ne 0 ]]; then
  echo "container-smoke: the entrypoint failed with exit code $status" >&2
  exit 1
fi

# 5. Both outputs, owned by the user, equal to expected-outputs/ within the tolerance.
for name in probability-covid-19.json probability-severe-covid-19.json; do
  file=$work/output/$name
  if [[ ! -f $file ]]; then
    echo "container-smoke: $file not written" >&2
    exit 1
  fi
  owner=$(stat -c %u "$file")
  if [[ $owner -ne $user_id ]]; then
    echo "container-smoke: $file is owned by uid $owner, expected $user_id" >&2
    exit 1
  fi
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const [actualFile, expectedFile, tolerance] = process.argv.slice(1);
    const fs = require("node:fs");
    const actual = JSON.parse(fs.readFileSync(actualFile, "utf8"));
    const expected = JSON.parse(fs.readFileSync(expectedFile, "utf8"));
    if (typeof actual !== "number" || !(actual >= 0 && actual <= 1)) throw new Error(`${actualFile}: ${actual} is not a probability`);
    if (Math.abs(actual - expected) > Number(tolerance)) throw new Error(`${actualFile}: ${actual}, expected ${expected}`);
    console.log(`${actualFile}: ${actual} (expected ${expected})`);
  ' "$file" "$root/expected-outputs/$name" "$tolerance"
done
echo "container-smoke: OK"
