//! The OS name and version of `Custom:Host`, from one read of `/etc/os-release`.
//!
//! `sysinfo` reads the file whole for each of the two fields, so a `system` probe every second
//! read it twice a second. The rules are the ones the rows always had: the first line that
//! starts with `NAME=` (`VERSION_ID=`), every double quote taken out; where the file cannot be
//! read or has no such line, `/etc/lsb-release`'s `DISTRIB_ID=` (`DISTRIB_RELEASE=`) the same
//! way.

use std::path::Path;

const OS_RELEASE: &str = "/etc/os-release";
const LSB_RELEASE: &str = "/etc/lsb-release";

/// The node's OS as its release files name it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct OsRelease {
    pub(super) name: Option<String>,
    pub(super) version: Option<String>,
}

/// What the release files of this node say.
pub(super) fn os_release() -> OsRelease {
    from_files(Path::new(OS_RELEASE), Path::new(LSB_RELEASE))
}

fn from_files(os_release: &Path, lsb_release: &Path) -> OsRelease {
    let text = std::fs::read_to_string(os_release).ok();
    let mut found = OsRelease {
        name: text.as_deref().and_then(|t| field(t, "NAME=")),
        version: text.as_deref().and_then(|t| field(t, "VERSION_ID=")),
    };
    if found.name.is_none() || found.version.is_none() {
        let fallback = std::fs::read_to_string(lsb_release).ok();
        let fallback = fallback.as_deref();
        found.name = found
            .name
            .or_else(|| fallback.and_then(|t| field(t, "DISTRIB_ID=")));
        found.version = found
            .version
            .or_else(|| fallback.and_then(|t| field(t, "DISTRIB_RELEASE=")));
    }
    found
}

/// The value of the first line starting with `key`, without double quotes.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .map(|value| value.replace('"', ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysinfo::System;

    /// The same answer as the two `sysinfo` calls the rows used to come from.
    #[test]
    fn this_node_reads_as_sysinfo_reads_it() {
        let found = os_release();
        assert_eq!(found.name, System::name().ok());
        assert_eq!(found.version, System::os_version().ok());
    }

    #[test]
    fn fields_come_from_the_first_line_and_lose_their_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let os = dir.path().join("os-release");
        let lsb = dir.path().join("lsb-release");
        std::fs::write(
            &os,
            "PRETTY_NAME=\"Some OS 9\"\nNAME=\"Some \"OS\"\"\nVERSION_ID=9.1\nNAME=Other\n",
        )
        .unwrap();
        std::fs::write(&lsb, "DISTRIB_ID=Lsb\nDISTRIB_RELEASE=\"1.0\"\n").unwrap();
        assert_eq!(
            from_files(&os, &lsb),
            OsRelease {
                name: Some("Some OS".into()),
                version: Some("9.1".into()),
            }
        );
        // No VERSION_ID: that one from lsb-release, the name still from os-release.
        std::fs::write(&os, "NAME=Rolling\r\n").unwrap();
        assert_eq!(
            from_files(&os, &lsb),
            OsRelease {
                name: Some("Rolling".into()),
                version: Some("1.0".into()),
            }
        );
        // Neither file: nothing.
        std::fs::remove_file(&os).unwrap();
        std::fs::remove_file(&lsb).unwrap();
        assert_eq!(from_files(&os, &lsb), OsRelease::default());
        // Not UTF-8: as unreadable.
        std::fs::write(&os, b"NAME=\xff\n").unwrap();
        std::fs::write(&lsb, "DISTRIB_ID=Lsb\n").unwrap();
        assert_eq!(
            from_files(&os, &lsb),
            OsRelease {
                name: Some("Lsb".into()),
                version: None,
            }
        );
    }
}
