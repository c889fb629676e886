#!/usr/bin/env bash
# Debian root file systems for testing other PostgreSQL majors, sourced by
# run-major.sh and run-pg-upgrade.sh (after common.sh).  Needs root.
#
#   rootfs_ensure DIR SUITE PACKAGES [EXTRA_SUITE]   make DIR with mmdebstrap if missing
#   rootfs_run DIR SCRIPT [VAR=VALUE...]              run test/scripts/SCRIPT in it
#
# A root file system is kept for the next run; a run copies the source tree
# into it afresh and mounts /proc, /dev and /dev/shm for the run only.

ROOTFS_MIRROR=${QUOTA_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Make a root file system of SUITE with PACKAGES (comma-separated) in DIR,
# unless it is there; EXTRA_SUITE adds a second release's packages to it.
rootfs_ensure() {
    local dir=$1 suite=$2 packages=$3 extra=${4:-} started=$SECONDS
    local sources=("deb $ROOTFS_MIRROR $suite main")
    [ -z "$extra" ] || sources+=("deb $ROOTFS_MIRROR $extra main")
    [ ! -f "$dir/.quota-rootfs" ] || return 0
    if ! command -v mmdebstrap >/dev/null; then
        say "installing mmdebstrap"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; }
    fi
    say "making a $suite${extra:+ + $extra} root file system in $dir"
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir.tmp"
    # unstable's Release file may be past its Valid-Until date on a mirror
    mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
        --include="$packages" "$suite" "$dir.tmp" "${sources[@]}"
    touch "$dir.tmp/.quota-rootfs"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    echo "made in $((SECONDS - started)) s"
}

ROOTFS_MOUNTS=()

# Unmount what rootfs_run mounted (also on any exit of the caller).
rootfs_unmount() {
    local i
    for ((i = ${#ROOTFS_MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${ROOTFS_MOUNTS[$i]}" 2>/dev/null || umount -l "${ROOTFS_MOUNTS[$i]}" 2>/dev/null || true
    done
    ROOTFS_MOUNTS=()
}

# Mount SOURCE on DIR/TARGET with mount's OPTIONS.
rootfs_mount() {
    local dir=$1 source=$2 target=$1$3
    shift 3
    if mountpoint -q "$target"; then umount -l "$target"; fi
    mkdir -p "$target"
    mount "$@" "$source" "$target"
    ROOTFS_MOUNTS+=("$target")
}

# Run bash test/scripts/SCRIPT inside DIR on a fresh copy of the source tree
# (in /build/quota), with the given environment; returns its exit status.
rootfs_run() {
    local dir=$1 script=$2 src=/build/quota rc
    shift 2
    rootfs_mount "$dir" proc /proc -t proc
    rootfs_mount "$dir" /dev /dev --bind
    rootfs_mount "$dir" /dev/shm /dev/shm --bind
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
    # packages installed in it start no services (prometheus, the exporter)
    printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
    chmod +x "$dir/usr/sbin/policy-rc.d"
    rm -rf "${dir:?}$src"
    mkdir -p "$dir$src"
    tar -C "$QUOTA_ROOT" --exclude=.git --exclude=tmp_check --exclude=tmp_check_iso -cf - . \
        | tar -C "$dir$src" -xf -
    set +e
    chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb \
        ${QUOTA_FUZZ_SECONDS:+QUOTA_FUZZ_SECONDS="$QUOTA_FUZZ_SECONDS"} "$@" \
        bash "$src/test/scripts/$script"
    rc=$?
    set -e
    rootfs_unmount
    return $rc
}
