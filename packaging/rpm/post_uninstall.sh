# %postun of ssm-inventoryd, run by /bin/sh: on erase the unit file is gone, on upgrade it
# may have changed; either way systemd has to reread it.
# The state in /var/lib/ssm-inventoryd is kept, as rpm has no purge.
# On erase, the drop-in for older systemd that %post put in place where it was needed goes too,
# before systemd rereads the units.
if [ "$1" -eq 0 ]; then
    rm -f /usr/lib/systemd/system/ssm-inventoryd.service.d/00-older-systemd.conf
    rmdir /usr/lib/systemd/system/ssm-inventoryd.service.d 2>/dev/null || :
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi

# cargo-generate-rpm cannot make the package own directories, so rpm leaves them behind on
# erase. rmdir removes them only when empty: one holding a config.toml.rpmsave stays.
if [ "$1" -eq 0 ]; then
    for dir in /etc/ssm-inventoryd/probes.d /etc/ssm-inventoryd \
        /usr/share/doc/ssm-inventoryd/examples/probes.d \
        /usr/share/doc/ssm-inventoryd/examples /usr/share/doc/ssm-inventoryd \
        /usr/share/ssm-inventoryd/systemd /usr/share/ssm-inventoryd; do
        rmdir "$dir" 2>/dev/null || :
    done
fi
exit 0
