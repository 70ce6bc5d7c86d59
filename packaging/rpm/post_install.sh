# %post of ssm-inventoryd, run by /bin/sh. $1 is how many versions of the package are
# installed once this one is: 1 on a first install, 2 or more on an upgrade.
# A scriptlet failure cannot undo the transaction, so every command is allowed to fail.

# On systemd older than compat_below the unit as shipped does not work (README.md, "Older
# systemd"): there the drop-in that makes it work goes in beside it, before systemd reads the
# unit below; anywhere else it is taken away, so a node whose systemd has been upgraded since
# loses it with this package's next upgrade.
compat_below=240
compat_drop_in=00-older-systemd.conf
compat_dir=/usr/lib/systemd/system/ssm-inventoryd.service.d
# "systemd 252 (252.39-1~deb12u2)" or "systemd 219": the number after "systemd ".
systemd_version="$(systemctl --version 2>/dev/null | sed -n '1s/^systemd \([0-9][0-9]*\).*/\1/p')"
if [ -n "$systemd_version" ] && [ "$systemd_version" -lt "$compat_below" ]; then
    mkdir -p "$compat_dir" || :
    cp "/usr/share/ssm-inventoryd/systemd/$compat_drop_in" "$compat_dir/$compat_drop_in" || :
    chmod 644 "$compat_dir/$compat_drop_in" || :
    # StateDirectory= (235) would create it; before 235, ReadWritePaths= fails the start
    # while it is missing.
    mkdir -p /var/lib/ssm-inventoryd || :
    chmod 700 /var/lib/ssm-inventoryd || :
else
    rm -f "$compat_dir/$compat_drop_in" || :
    rmdir "$compat_dir" 2>/dev/null || :
fi

if command -v systemctl >/dev/null 2>&1; then
    if [ "$1" -eq 1 ]; then
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload >/dev/null 2>&1 || :
            systemctl enable --now ssm-inventoryd.service >/dev/null 2>&1 || :
        else
            # Not running under systemd (image build, chroot): the symlinks alone make the
            # unit start on the next boot.
            systemctl enable ssm-inventoryd.service >/dev/null 2>&1 || :
        fi
    elif [ "$1" -ge 2 ] && [ -d /run/systemd/system ]; then
        # The new files are already in place, so the restarted daemon is the new one.
        systemctl daemon-reload >/dev/null 2>&1 || :
        systemctl try-restart ssm-inventoryd.service >/dev/null 2>&1 || :
    fi
fi
exit 0
