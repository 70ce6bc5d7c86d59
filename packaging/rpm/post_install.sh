# %post of ssm-inventoryd, run by /bin/sh. $1 is how many versions of the package are
# installed once this one is: 1 on a first install, 2 or more on an upgrade.
# A scriptlet failure cannot undo the transaction, so every command is allowed to fail.
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
