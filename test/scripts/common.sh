#!/usr/bin/env bash
# Shared set-up for the README's two commands: packages, build, and running
# server-side programs as an unprivileged user (initdb refuses root).

set -euo pipefail

QUOTA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
export PATH="$PG_BIN:$PATH"

# Print a section heading.
say() { printf '\n== %s\n' "$*"; }

# Install the Debian packages the project needs, only those missing.
ensure_packages() {
    local want=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR
                postgresql-$PG_MAJOR-cron make gcc libipc-run-perl)
    local missing=()
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            echo "missing packages: ${missing[*]}; run as root or install them" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The Debian package starts a cluster on 5432; the project never uses it.
}

# Build and install the extension into the PostgreSQL installation.
build_install() {
    say "building quota"
    make -C "$QUOTA_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" all
    if [ "$(id -u)" -eq 0 ] || [ -w "$($PG_BIN/pg_config --pkglibdir)" ]; then
        make -C "$QUOTA_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
    else
        echo "cannot write $($PG_BIN/pg_config --pkglibdir): run as root" >&2
        exit 1
    fi
}

# The unprivileged user that owns throwaway clusters.
PG_USER=${QUOTA_PG_USER:-postgres}

# Run a command as the unprivileged user (directly when not root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- env PATH="$PATH" "$@"
    else
        "$@"
    fi
}

# Copy the source tree to a directory the unprivileged user owns.
private_copy() {
    local dir
    dir=$(mktemp -d /tmp/quota-work.XXXXXX)
    tar -C "$QUOTA_ROOT" --exclude=.git --exclude=tmp_check --exclude=tmp_check_iso -cf - . | tar -C "$dir" -xf -
    if [ "$(id -u)" -eq 0 ]; then
        chown -R "$PG_USER": "$dir"
    fi
    echo "$dir"
}
