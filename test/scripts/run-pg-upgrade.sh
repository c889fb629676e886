#!/usr/bin/env bash
# pg_upgrade of a cluster using quota from PostgreSQL 15 to 17 with Debian's
# pg_upgradecluster, on the two majors installed side by side as on a
# Debian 12 machine upgraded to Debian 13: a trixie root file system
# (rootfs.sh) that also holds bookworm's postgresql-15.  Runs
# test/major/002_pg_upgradecluster.pl there.  As root.
#
#   bash test/scripts/run-pg-upgrade.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$QUOTA_ROOT/test/scripts/rootfs.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "run-pg-upgrade.sh: run as root (mmdebstrap, chroot and mount need it)" >&2
    exit 1
fi
dir=${QUOTA_ROOTFS_DIR:-/var/cache/quota-rootfs}/pg15-17
rootfs_ensure "$dir" trixie \
    "postgresql-15,postgresql-server-dev-15,postgresql-15-cron,postgresql-17,postgresql-server-dev-17,postgresql-17-cron,make,gcc,libipc-run-perl" \
    bookworm
trap rootfs_unmount EXIT
say "pg_upgradecluster 15 -> 17 in $dir"
rootfs_run "$dir" pg-upgrade.sh
