# %preun of ssm-inventoryd, run by /bin/sh. $1 is how many versions of the package remain
# afterwards: 0 on erase, 1 when an upgrade removes the old version (nothing to do then).
# A failing %preun would abort the erase, so every command is allowed to fail.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then
        systemctl --no-reload disable --now ssm-inventoryd.service >/dev/null 2>&1 || :
    else
        systemctl --no-reload disable ssm-inventoryd.service >/dev/null 2>&1 || :
    fi
fi
exit 0
