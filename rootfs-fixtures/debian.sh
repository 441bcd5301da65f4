#!/usr/bin/env bash
# Makes the image debian:bookworm (minbase) with debootstrap, from the mirror that this
# machine's own apt sources name. Idempotent: does nothing when the image is in the store.
#
#   RBOX=path/to/rbox RBOX_ROOT=/var/lib/rbox rootfs-fixtures/debian.sh [SUITE] [NAME:TAG]
set -euo pipefail

RBOX=${RBOX:-rbox}
SUITE=${1:-bookworm}
NAME=${2:-debian:$SUITE}

if "$RBOX" image inspect "$NAME" >/dev/null 2>&1; then
    echo "$NAME is already in the store"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "debian.sh: apt-get install debootstrap" >&2; exit 1; }

# The first Debian mirror the machine's apt sources name (deb822 or one-line format).
mirror=$(
    {
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
            /^Types:/ { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
            /^URIs:/ && deb { print $2 }'
        grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}' || true
    } | { grep -v -- '-security' || true; } | head -1
)
if [ -z "$mirror" ]; then
    echo "debian.sh: no Debian mirror found in /etc/apt/sources.list*" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
}
rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/lib/apt/lists/*
tar --sort=name --numeric-owner --xattrs -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$RBOX" import -m "debootstrap --variant=minbase $SUITE" "$work/rootfs.tar" "$NAME" >/dev/null
echo "$NAME imported"
