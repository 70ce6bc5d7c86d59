//! `validate`: checks the configuration and probe definitions without running anything.

use std::path::Path;

use super::{CommandError, load_settings};
use crate::config::ProbeKind;

pub fn run(config_path: &Path) -> Result<(), CommandError> {
    let settings = load_settings(config_path)?;
    let count =
        |wanted: fn(&ProbeKind) -> bool| settings.probes.iter().filter(|p| wanted(&p.kind)).count();
    println!(
        "{}: valid; {} probes ({} exec, {} files, {} system)",
        config_path.display(),
        settings.probes.len(),
        count(|k| matches!(k, ProbeKind::Exec(_))),
        count(|k| matches!(k, ProbeKind::Files(_))),
        count(|k| matches!(k, ProbeKind::System(_))),
    );
    Ok(())
}
