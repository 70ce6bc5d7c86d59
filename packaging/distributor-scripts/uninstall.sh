#!/bin/sh
# Removes ssm-inventoryd: what AWS-ConfigureAWSPackage runs (as root, `sh uninstall.sh`, from
# the installed version's folder) for action=Uninstall, and before installing another version
# unless installationType is "In-place update".
#
# Configuration and state stay, so a reinstall or the next version starts where this one
# stopped: dpkg -r keeps the conffiles and /var/lib/ssm-inventoryd (dpkg --purge deletes them);
# rpm -e keeps the state, and the edited configuration files it renames to *.rpmsave are put
# back. Running it when ssm-inventoryd is not installed says so and succeeds.
set -e
cd "$(dirname "$0")"

fail() {
    echo "uninstall.sh: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (the SSM Agent does): sudo sh uninstall.sh"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Which tool installed it, whatever package sits beside this script: the node's own database
# knows. dpkg is asked first, as Debian-family nodes may carry rpm too.
manager=
if command -v dpkg-query >/dev/null 2>&1; then
    # "config-files" is what dpkg -r leaves: removed already, conffiles kept.
    case "$(dpkg-query -W -f='${Status}' ssm-inventoryd 2>/dev/null || true)" in
        "" | *" not-installed" | *" config-files") ;;
        *) manager=dpkg ;;
    esac
fi
if [ -z "$manager" ] && command -v rpm >/dev/null 2>&1 && rpm -q --quiet ssm-inventoryd 2>/dev/null; then
    manager=rpm
fi
if [ -z "$manager" ]; then
    command -v dpkg-query >/dev/null 2>&1 || command -v rpm >/dev/null 2>&1 ||
        fail "neither dpkg nor rpm found: cannot tell whether ssm-inventoryd is installed"
    echo "ssm-inventoryd is not installed: nothing to remove"
    exit 0
fi

case "$manager" in
    dpkg)
        # As in install.sh: wait out another dpkg or apt holding the lock.
        lock_waits=0
        until LC_ALL=C DEBIAN_FRONTEND=noninteractive dpkg -r ssm-inventoryd >"$log" 2>&1; do
            if grep -q 'locked by another process' "$log" && [ "$lock_waits" -lt 60 ]; then
                [ "$lock_waits" -gt 0 ] || echo "waiting for the dpkg lock, held by another process (up to 5 minutes)"
                lock_waits=$((lock_waits + 1))
                sleep 5
                continue
            fi
            cat "$log"
            fail "dpkg -r ssm-inventoryd failed: $(grep -v '^ ' "$log" | grep . | tail -n 1)"
        done
        cat "$log"
        echo "removed ssm-inventoryd; kept /etc/ssm-inventoryd and /var/lib/ssm-inventoryd (dpkg --purge ssm-inventoryd deletes them)"
        ;;
    rpm)
        if ! LC_ALL=C rpm -e --allmatches ssm-inventoryd >"$log" 2>&1; then
            cat "$log"
            fail "rpm -e ssm-inventoryd failed: $(grep . "$log" | tail -n 1)"
        fi
        cat "$log"
        # rpm -e deletes the configuration files nobody edited and renames the edited ones to
        # *.rpmsave. Putting those back keeps the edits for the next install, as dpkg -r does:
        # rpm then keeps a file it finds in place and writes its own beside it as *.rpmnew.
        restored=0
        for saved in /etc/ssm-inventoryd/*.rpmsave /etc/ssm-inventoryd/probes.d/*.rpmsave; do
            [ -f "$saved" ] || continue
            original=${saved%.rpmsave}
            [ -e "$original" ] && continue
            mv -- "$saved" "$original"
            restored=$((restored + 1))
        done
        echo "removed ssm-inventoryd; kept /var/lib/ssm-inventoryd and $restored edited configuration file(s) in /etc/ssm-inventoryd"
        ;;
esac
