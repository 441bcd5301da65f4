#!/usr/bin/env bash
# Makes the image busybox:latest from Debian's busybox-static, with no internet:
# busybox and its applet links, /etc/passwd, /etc/group, /tmp, /root; CMD ["sh"] as
# Docker Hub's busybox.
# Idempotent: does nothing when the image is already in the store.
#
#   RBOX=path/to/rbox RBOX_ROOT=/var/lib/rbox rootfs-fixtures/busybox.sh [NAME:TAG]
set -euo pipefail

RBOX=${RBOX:-rbox}
NAME=${1:-busybox:latest}
BUSYBOX=${BUSYBOX:-/bin/busybox}

if "$RBOX" image inspect "$NAME" >/dev/null 2>&1; then
    echo "$NAME is already in the store"
    exit 0
fi

if ! [ -x "$BUSYBOX" ] || ! "$BUSYBOX" --list-full >/dev/null 2>&1; then
    echo "busybox.sh: $BUSYBOX is missing: apt-get install busybox-static" >&2
    exit 1
fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "busybox.sh: $BUSYBOX is dynamically linked: install busybox-static" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home,var/spool/mail,var/www,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
cp "$BUSYBOX" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
# Hard links, as the official busybox image has them: one file, every applet name.
"$BUSYBOX" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$rootfs/$(dirname "$applet")"
    ln "$rootfs/bin/busybox" "$rootfs/$applet"
done

cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
# As the glibc busybox image: names from /etc/hosts first (without this file glibc asks DNS
# first).
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
GROUP
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

# A reproducible tarball: sorted, fixed times and owners.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$rootfs" -cf "$work/rootfs.tar" .
# As Docker Hub's busybox: one layer and `CMD ["sh"]`, loaded as a docker archive.
# (awk reads the whole help: a reader that stops early would fail the pipeline.)
version=$({ "$BUSYBOX" 2>&1 || true; } | awk 'NR == 1 {print $2}')
case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
esac
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
layer=$(sha256sum "$work/rootfs.tar" | cut -d' ' -f1)
archive=$work/archive
mkdir -p "$archive/$layer"
mv "$work/rootfs.tar" "$archive/$layer/layer.tar"
printf '{"architecture":"%s","os":"linux","created":"%s","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"busybox %s from Debian'"'"'s busybox-static"},{"created":"%s","created_by":"CMD [\\"sh\\"]","empty_layer":true}]}' \
    "$arch" "$created" "$layer" "$created" "$version" "$created" >"$archive/config.json"
config=$(sha256sum "$archive/config.json" | cut -d' ' -f1)
mv "$archive/config.json" "$archive/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
    "$config" "$NAME" "$layer" >"$archive/manifest.json"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$archive" -cf "$work/image.tar" .
"$RBOX" load -q -i "$work/image.tar" >/dev/null
echo "$NAME imported"
