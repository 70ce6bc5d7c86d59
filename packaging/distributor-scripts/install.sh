#!/bin/sh
# Installs ssm-inventoryd from the .deb or .rpm beside this script. AWS-ConfigureAWSPackage runs
# it as root with `sh install.sh` from the folder the Distributor zip was extracted into.
#
# Running it again reinstalls the same package. Edited configuration files and the daemon's
# state (/var/lib/ssm-inventoryd) are kept: the packages mark /etc/ssm-inventoryd as dpkg
# conffiles and rpm %config(noreplace), and neither tool touches the state directory.
# On failure it exits non-zero with one line on stderr saying what is wrong; the package tool's
# own output goes to stdout, which the agent keeps with the command's result.
set -e
cd "$(dirname "$0")"

fail() {
    echo "install.sh: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (the SSM Agent does): sudo sh install.sh"

package=
for candidate in *.deb *.rpm; do
    [ -f "$candidate" ] || continue
    [ -z "$package" ] || fail "more than one package in $(pwd): $package and $candidate"
    package=$candidate
done
[ -n "$package" ] || fail "no ssm-inventoryd .deb or .rpm beside install.sh in $(pwd)"

# The packages' binary needs glibc 2.17 or later (RHEL/CentOS 7, Amazon Linux 2 and every
# newer distribution) and the node's architecture. The package tools would refuse either with
# a paragraph about dependencies or, for the architecture, not at all on rpm --nodeps: say it
# in one line first.
glibc_floor=2.17
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc \([0-9][0-9.]*\)$/\1/p')
[ -n "$glibc" ] || fail "no GNU C library found (getconf GNU_LIBC_VERSION): ssm-inventoryd needs glibc $glibc_floor or later"
if [ "$(printf '%s\n%s\n' "$glibc_floor" "$glibc" | sort -t. -k1,1n -k2,2n | head -n 1)" != "$glibc_floor" ]; then
    fail "this node has glibc $glibc; ssm-inventoryd needs glibc $glibc_floor or later"
fi
machine=$(uname -m)
case "$package" in
    *_amd64.deb | *.x86_64.rpm) package_arch=x86_64 ;;
    *_arm64.deb | *.aarch64.rpm) package_arch=aarch64 ;;
    *) package_arch=$machine ;;
esac
[ "$package_arch" = "$machine" ] || fail "$package is built for $package_arch, but this node is $machine"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# dpkg refuses to run while another dpkg or apt holds its lock, which is common right after
# boot (unattended-upgrades, cloud-init): wait for it instead of failing the fleet install.
dpkg_waiting_for_lock() {
    grep -q 'locked by another process' "$log" || return 1
    [ "$lock_waits" -lt 60 ] || return 1
    [ "$lock_waits" -gt 0 ] || echo "waiting for the dpkg lock, held by another process (up to 5 minutes)"
    lock_waits=$((lock_waits + 1))
    sleep 5
}

case "$package" in
    *.deb)
        command -v dpkg >/dev/null 2>&1 || fail "dpkg not found: $package is a Debian package"
        # --force-confold keeps an edited conffile without asking when the new package
        # changes it too: there is nobody to answer a prompt under the agent. Dependencies are
        # not fetched (that would need apt and its repositories): the package only needs
        # ca-certificates and the C library, which Debian and Ubuntu server images carry;
        # where one is missing, dpkg leaves the package unconfigured and the line says which.
        lock_waits=0
        until LC_ALL=C DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$package" >"$log" 2>&1; do
            dpkg_waiting_for_lock && continue
            cat "$log"
            missing=$(sed -n 's/^ ssm-inventoryd depends on \(.*\); however:$/\1/p' "$log" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
            [ -z "$missing" ] || fail "ssm-inventoryd needs $missing, missing or too old here: install it (apt-get install) and run install.sh again"
            fail "dpkg -i $package failed: $(grep -v '^ ' "$log" | grep . | tail -n 1)"
        done
        cat "$log"
        installed=$(dpkg-query -W -f='${Package} ${Version}' ssm-inventoryd)
        ;;
    *.rpm)
        command -v rpm >/dev/null 2>&1 || fail "rpm not found: $package is an RPM package"
        # rpm rather than dnf or yum: those refresh repository metadata first, which fails on
        # nodes that reach only the Systems Manager endpoints, and the package needs nothing a
        # base install lacks. --replacepkgs makes a second run a reinstall; --oldpackage lets
        # an older version replace a newer one when that is the version asked for.
        if ! LC_ALL=C rpm -U --replacepkgs --oldpackage "$package" >"$log" 2>&1; then
            cat "$log"
            missing=$(sed -n 's/^[[:space:]]*\(.*\) is needed by ssm-inventoryd-.*$/\1/p' "$log" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
            [ -z "$missing" ] || fail "ssm-inventoryd needs $missing, missing or too old here: install or update it (dnf, yum or zypper) and run install.sh again"
            fail "rpm -U $package failed: $(grep . "$log" | tail -n 1)"
        fi
        cat "$log"
        installed=$(rpm -q ssm-inventoryd)
        ;;
esac
echo "installed $installed"

# The packages start the service but ignore a failed start, as package scripts must. A fleet
# install should not report success for a daemon that is not running, so look: with systemd
# as init and the unit enabled (an administrator may have disabled it), it must be active.
# A Type=notify start has returned by now; the wait covers a restart after an upgrade.
unit=ssm-inventoryd.service
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    waited=0
    until systemctl is-active --quiet "$unit"; do
        [ "$waited" -lt 15 ] || fail "installed, but $unit is not running ($(systemctl is-active "$unit" 2>/dev/null || true)): see journalctl -u ssm-inventoryd"
        sleep 1
        waited=$((waited + 1))
    done
    echo "$unit is active"
elif [ -d /run/systemd/system ]; then
    echo "$unit is disabled on this node, so it was not started"
fi
