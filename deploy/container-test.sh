#!/usr/bin/env bash
# Builds the Dockerfile (CPU variant) with podman and checks the image: the service starts from the image's
# filesystem as its non-root user, passes its health check, and answers /predict exactly like the rule.
#
# No registry is reachable here and `podman run` cannot create containers here, so:
#  - the base images are made locally: a Debian bookworm rootfs (debootstrap, from Debian's mirror) plus this
#    machine's .NET SDK (build stage) or .NET runtimes (runtime stage), imported with `podman import`, and passed as
#    the Dockerfile's SDK_IMAGE and RUNTIME_IMAGE (whose defaults are the official images);
#  - the built image is mounted (`podman image mount`) and its ENTRYPOINT run in a chroot with the image's
#    environment, working directory and USER (chroot --userspec).
# The SDK image being bookworm (GLIBCXX_3.4.30), `dotnet publish` patches TorchSharp's native shim, and the check
# proves that the patched shim loads. Uses the host's NuGet cache (mounted into the build) to restore offline.
# Usage: deploy/container-test.sh        (as root; installs podman and debootstrap when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${CONWAY_CONTAINER_WORK:-/var/tmp/conway-container}
PORT=${CONWAY_CONTAINER_PORT:-18080}
IMAGE=localhost/conway:cpu-test
PODMAN=(podman --storage-driver vfs)
started=$(date +%s)
# each step says the disk space left where podman (vfs: a full copy per layer) and this script write
step() { echo "== $(( $(date +%s) - started )) s: $* [free: $(df -h --output=avail /var/lib/containers "${WORK%/*}" 2>/dev/null | tail -n +2 | tr -d ' ' | paste -sd /)]"; }
mnt= pid=
# vfs keeps every layer as a full copy: leave no image behind (the rootfs stays cached in $WORK)
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$mnt" ] && { umount "$mnt/proc" "$mnt/dev" 2>/dev/null || true; "${PODMAN[@]}" image unmount "$IMAGE" >/dev/null 2>&1 || true; }
  "${PODMAN[@]}" rmi -f "$IMAGE" localhost/runtime-cpu localhost/conway-sdk:bookworm localhost/conway-aspnet:bookworm >/dev/null 2>&1 || true
  "${PODMAN[@]}" image prune -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v readelf >/dev/null; then
  step "installing podman, debootstrap and binutils"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap binutils >/dev/null
fi

rootfs="$WORK/rootfs"
if [ ! -f "$rootfs/.conway-ready" ]; then
  step "debootstrap: Debian bookworm (minbase) into $rootfs"
  rm -rf "$rootfs" && mkdir -p "$WORK"
  debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,zlib1g bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  chroot "$rootfs" groupadd --gid 1654 app
  chroot "$rootfs" useradd --uid 1654 --gid app --no-create-home --shell /bin/false app
  ln -sf /usr/share/dotnet/dotnet "$rootfs/usr/bin/dotnet"
  touch "$rootfs/.conway-ready"
fi

# trust what this machine trusts (e.g. an egress proxy's CA), so that the build stage reaches NuGet as the host does
cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$rootfs" update-ca-certificates >/dev/null 2>&1

step "base images from the rootfs and this machine's .NET"
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
base() { # name, dotnet paths (relative to the .NET root)...
  local name=$1; shift
  tar -C "$rootfs" --exclude=./.conway-ready -cf - . -C "$dotnet_root" --transform 's,^\([a-z]\),usr/share/dotnet/\1,S' "$@" \
    | "${PODMAN[@]}" import --change 'ENV APP_UID=1654' --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=1' \
        --change 'ENV NUGET_CERT_REVOCATION_MODE=offline' - "localhost/conway-$name:bookworm" >/dev/null
}
base sdk dotnet host shared sdk packs sdk-manifests templates
base aspnet dotnet host shared

step "podman build (CPU variant)"
build() {
  # docker format: the OCI format has no HEALTHCHECK
  "${PODMAN[@]}" build --isolation chroot --format docker --layers=false --quiet -f Dockerfile \
    --build-arg SDK_IMAGE=localhost/conway-sdk:bookworm --build-arg RUNTIME_IMAGE=localhost/conway-aspnet:bookworm \
    --build-arg CUDA_IMAGE=localhost/conway-aspnet:bookworm \
    -v "${NUGET_PACKAGES:-$HOME/.nuget/packages}:/root/.nuget/packages" "$@" . >/dev/null
}
# Debian 12's buildah (1.28) does not resolve "FROM runtime-${BACKEND}" to the stage (BuildKit and newer buildah
# do): build that stage first as a local image of the same name, which it then finds.
build --target runtime-cpu -t localhost/runtime-cpu
build -t "$IMAGE"

step "starting the image's entrypoint in a chroot as its USER"
mnt=$("${PODMAN[@]}" image mount "$IMAGE")
mount -t proc proc "$mnt/proc" && mount --bind /dev "$mnt/dev"
user=$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
workdir=$("${PODMAN[@]}" image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")
entrypoint=$("${PODMAN[@]}" image inspect --format '{{join .Config.Entrypoint " "}}' "$IMAGE")
healthcheck=$("${PODMAN[@]}" image inspect --format '{{join .Config.Healthcheck.Test " "}}' "$IMAGE" | sed 's/^CMD //')
mapfile -t environment < <("${PODMAN[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
# a short self-test keeps the start quick on a small CPU; the port avoids clashing with anything on 8080 here
in_image() { exec chroot --userspec="$user:$user" "$mnt" /usr/bin/env -i "${environment[@]}" HOME=/tmp \
  ASPNETCORE_HTTP_PORTS="$PORT" Model__SelfTestPatterns=glider,blinker /bin/sh -c "cd $workdir && exec $*"; }
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then echo "FAIL: something already listens on port $PORT"; exit 1; fi
(in_image "$entrypoint") >"$WORK/service.log" 2>&1 &
pid=$!

step "waiting for the image's HEALTHCHECK ($healthcheck) to pass"
for _ in $(seq 1 180); do
  (in_image "$healthcheck") >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/service.log"; echo "FAIL: the service exited"; exit 1; }
  sleep 2
done
(in_image "$healthcheck")
owner=$(ps -o uid= -p "$pid" | tr -d ' ')

step "POST /predict (a glider)"
answer=$(curl -sf -X POST "http://127.0.0.1:$PORT/predict" -H 'Content-Type: application/json' -d '{"rle": "x = 3, y = 3\nbo$2bo$3o!"}')
expected='["00000000000000000000000000000000","10100000000000000000000000000000","01100000000000000000000000000000","01000000000000000000000000000000"]'
echo "$answer" | jq -e --argjson expected "$expected" \
  '.matchesRule == true and .next[0:4] == $expected and .rule == .next and ([.next[4:][] | test("^0{32}$")] | all)' >/dev/null \
  || { echo "FAIL: unexpected answer: $answer"; exit 1; }
[ "$owner" = 1654 ] || { echo "FAIL: the service ran as uid $owner, not 1654"; exit 1; }
shim=$(find "$mnt/app" -name libLibTorchSharp.so | head -1)
glibcxx=$(readelf -V "$shim" | grep -o 'GLIBCXX_3\.4\.3[0-9]' | sort -u | tr '\n' ' ')
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1 / 1e9}')
step "PASS: image $IMAGE ($size) answered the glider's next state exactly, as uid $owner; its TorchSharp shim's newest GLIBCXX needs: $glibcxx"
