#!/usr/bin/env bash
# `make run`: build a busybox bundle and run it with husk, printing the
# container's own PID (1) and hostname.
set -euo pipefail
BUILD=${1:-build}
HUSK="$(cd "$BUILD" && pwd)/runtime/husk"
DEMO="$(cd "$BUILD" && pwd)/demo"

if [ "$(id -u)" -ne 0 ]; then
  echo "make run: husk needs root for this demo (try: sudo make run)" >&2
  exit 1
fi

rm -rf "$DEMO"
mkdir -p "$DEMO/rootfs"/{bin,dev,proc,sys,tmp,etc}
cp /bin/busybox "$DEMO/rootfs/bin/busybox"
for applet in $("$DEMO/rootfs/bin/busybox" --list | grep -vx busybox); do
  ln -sf busybox "$DEMO/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$DEMO/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$DEMO/rootfs/etc/group"

(cd "$DEMO" && "$HUSK" oci spec)
/usr/bin/python3 - "$DEMO/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["hostname"] = "husk-demo"
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", 'echo "PID inside the container: $$"; echo "hostname: $(hostname)"']
c["linux"]["resources"] = {"memory": {"limit": 67108864}, "pids": {"limit": 64}}
json.dump(c, open(path, "w"), indent=2)
PY

echo "+ husk oci run --bundle $DEMO husk-demo-$$"
"$HUSK" oci run --bundle "$DEMO" "husk-demo-$$"

# The docker-like face: the busybox image is made locally from busybox-static.
echo "+ husk run --rm --hostname husk-demo busybox sh -c 'echo PID \$\$; hostname'"
"$HUSK" --data-root "$DEMO/data" --root "$DEMO/state" run --rm --network none \
  --hostname husk-demo busybox sh -c 'echo "PID inside the container: $$"; echo "hostname: $(hostname)"'
