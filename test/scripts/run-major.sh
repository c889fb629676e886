#!/usr/bin/env bash
# Run the whole test suite (make test) against another PostgreSQL major, in
# a Debian root file system made with mmdebstrap, entered with chroot:
#
#   bash test/scripts/run-major.sh 17          # Debian 13 (trixie)
#   bash test/scripts/run-major.sh 18          # Debian unstable
#   bash test/scripts/run-major.sh 18 demo.sh  # another script of test/scripts
#
# The root file system is made when it is missing and kept for the next run
# in QUOTA_ROOTFS_DIR (default /var/cache/quota-rootfs), one per major; the
# packages of the suite are installed into it when missing.  The source tree
# is copied into it afresh for each run.  /proc, /dev and /dev/shm are
# mounted for the run and unmounted afterwards, whatever happens.  Runs as
# root (mmdebstrap, chroot and mount need it).  The host's own major runs
# without a chroot.
set -euo pipefail

major=${1:?usage: run-major.sh 15|17|18 [script of test/scripts]}
script=${2:-run-tests.sh}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/test/scripts/common.sh"

case "$major" in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    18) suite=unstable ;;
    *) echo "run-major.sh: no Debian release ships PostgreSQL $major (15, 17, 18)" >&2; exit 2 ;;
esac

if [ "$major" = "$(debian_pg_major)" ]; then
    exec env QUOTA_PG_MAJOR="$major" bash "$root/test/scripts/$script"
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "run-major.sh: run as root (mmdebstrap, chroot and mount need it)" >&2
    exit 1
fi

dir=${QUOTA_ROOTFS_DIR:-/var/cache/quota-rootfs}/pg$major
mirror=${QUOTA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# unstable's Release file may be past its Valid-Until date on a mirror
aptopt='Acquire::Check-Valid-Until "false"'
packages=(postgresql-$major postgresql-server-dev-$major postgresql-$major-cron
          make gcc libipc-run-perl pgbouncer clang libclang-rt-dev)

if [ ! -x "$dir/usr/lib/postgresql/$major/bin/postgres" ]; then
    if ! command -v mmdebstrap >/dev/null; then
        say "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; }
    fi
    say "making a $suite root file system for PostgreSQL $major in $dir"
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir.tmp"
    started=$SECONDS
    mmdebstrap --quiet --variant=minbase --aptopt="$aptopt" \
        --include="$(IFS=,; echo "${packages[*]}")" "$suite" "$dir.tmp" "$mirror"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    echo "made in $((SECONDS - started)) s"
fi

# Mount what the servers need; unmount on any exit.
mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
    done
    mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM
mount_in() {
    local target="$dir$2"
    mountpoint -q "$target" && umount -l "$target"
    mkdir -p "$target"
    mount "${@:3}" "$1" "$target"
    mounted+=("$target")
}
mount_in proc /proc -t proc
mount_in /dev /dev --bind
mount_in /dev/shm /dev/shm --bind
cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true

# A fresh copy of the source tree, owned by root like a clone
src=/build/quota
rm -rf "$dir$src"
mkdir -p "$dir$src"
tar -C "$root" --exclude=.git --exclude=tmp_check --exclude=tmp_check_iso -cf - . | tar -C "$dir$src" -xf -

say "PostgreSQL $major ($suite, $dir): test/scripts/$script"
set +e
chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb QUOTA_PG_MAJOR="$major" \
    ${QUOTA_FUZZ_SECONDS:+QUOTA_FUZZ_SECONDS="$QUOTA_FUZZ_SECONDS"} \
    bash "$src/test/scripts/$script"
rc=$?
set -e
exit $rc
