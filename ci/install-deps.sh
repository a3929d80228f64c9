#!/usr/bin/env bash
# Install every build, test and benchmark dependency of husk from Debian 12's
# apt repositories.  Safe to re-run: it does nothing when all are present.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang-format
  libjson-c-dev libseccomp-dev libcap-dev nettle-dev libmnl-dev
  # husk-netfw (nftables rules for bridges and published ports)
  libnftables-dev
  # husk-image (archives and registries; kept out of the husk binary)
  libarchive-dev libcurl4-openssl-dev
  # unit tests
  libcmocka-dev valgrind
  # integration tests
  python3 python3-pytest busybox-static iproute2 util-linux procps strace
  # eBPF tracer
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  # clients and anchors for compatibility tests and benchmarks
  crun runc podman containerd uidmap slirp4netns
  # image tests: a local registry and a tool to push to it
  skopeo docker-registry
  # benchmarks
  hyperfine python3-matplotlib time
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
