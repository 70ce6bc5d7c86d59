//! Whole-file tests: defaults, every error's line and key, drop-ins. One file per subject:
//! [`agent`] the `[agent]` keys, [`probes`] the keys every probe has and the rules across
//! probes, [`kinds`] the keys of each probe kind, [`drop_ins`] files beside the main one,
//! [`fleet`] configurations with fleet parameters.

mod agent;
mod drop_ins;
mod fleet;
mod kinds;
mod probes;

use std::path::Path;

use super::*;

pub(super) fn ok(text: &str) -> Settings {
    match load_str(Path::new("/etc/ssm-inventoryd/config.toml"), text) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// The error's one line, for a main file at `c.toml`.
pub(super) fn err(text: &str) -> String {
    match load_str(Path::new("c.toml"), text) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "{line}");
            line
        }
    }
}

pub(super) fn exec(p: &ProbeSettings) -> &ExecSettings {
    match &p.kind {
        ProbeKind::Exec(e) => e,
        other => panic!("not exec: {other:?}"),
    }
}

pub(super) const EXEC: &str = "[[probe]]\nname = \"p\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\ntype_name = \"Custom:P\"\n";
