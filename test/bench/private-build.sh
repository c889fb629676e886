#!/usr/bin/env bash
# A private copy of the PostgreSQL installation with one build of quota in
# it, so that two builds ("before" and "after") can be measured side by side
# without installing anything under /usr (issue 27, item 4).
#
#   bash test/bench/private-build.sh NAME [REV]
#
# REV: a git revision of this repository (branches of every worktree
# share it: main, bb195bc), built from `git archive`; a directory: that
# work tree as it is, uncommitted changes included; without it (or "."),
# this working tree.  Trees are copied, so they keep no objects.  The PostgreSQL installation is copied once to $ROOT-NAME
# (QUOTA_PRIVATE_ROOT, default /tmp/m27-pg), the sources go to
# $SRC-NAME (QUOTA_PRIVATE_SRC, default /tmp/m27-src), rebuilt each time
# and kept: test/scripts/structure.py $SRC-NAME reads their objects.
# A relocated pg_config reports paths under its own location, so PGXS
# installs into the copy.  The last line printed is the copy's bin
# directory: give it to charge-counts.sh or run.sh (QUOTA_PG_BIN).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

name=${1:?usage: private-build.sh NAME [REV]}
rev=${2:-.}
root=${QUOTA_PRIVATE_ROOT:-/tmp/m27-pg}-$name
src=${QUOTA_PRIVATE_SRC:-/tmp/m27-src}-$name
sys=/usr/lib/postgresql/$PG_MAJOR

if [ ! -x "$root$sys/bin/postgres" ]; then
    say "copying PostgreSQL $PG_MAJOR to $root" >&2
    mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$root/usr/include"
    cp -a "$sys" "$root/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$PG_MAJOR" "$root/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$root/usr/include/"
fi
bin=$root$sys/bin

rm -rf "$src"
mkdir -p "$src"
if [ "$rev" = . ] || [ -d "$rev" ]; then
    tree=$QUOTA_ROOT
    [ "$rev" = . ] || tree=$(cd "$rev" && pwd)
    say "building the working tree of $tree into $root" >&2
    tar -C "$tree" --exclude=.git --exclude=tmp_check --exclude=tmp_check_iso \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$src" -xf -
    desc="working tree $tree at $(git -C "$tree" rev-parse --short HEAD)$(git -C "$tree" diff --quiet HEAD -- src Makefile || echo ' + uncommitted changes')"
else
    say "building $rev into $root" >&2
    git -C "$QUOTA_ROOT" archive "$rev" | tar -C "$src" -xf -
    desc="$(git -C "$QUOTA_ROOT" rev-parse --short "$rev") $(git -C "$QUOTA_ROOT" log -1 --format=%s "$rev" | cut -c1-60)"
fi
make -C "$src" -s -j2 PG_CONFIG="$bin/pg_config" all >&2
make -C "$src" -s PG_CONFIG="$bin/pg_config" install >/dev/null
echo "$desc" > "$root/QUOTA_BUILD"
echo "quota ($desc) installed in $root" >&2
echo "$bin"
