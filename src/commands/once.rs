//! `once --dry-run`: one collect, plan and batch cycle whose requests are printed instead of
//! sent, so an operator can see exactly what would reach SSM.

use std::io::Write;
use std::path::Path;

use super::{CommandError, collect::select, load_settings};
use crate::batch::{self, Budget};
use crate::inventory::Item;
use crate::probe;
use crate::wire::{self, Payload};

pub struct OnceOptions<'a> {
    pub dry_run: bool,
    pub instance_id: Option<&'a str>,
}

pub async fn run(config_path: &Path, options: OnceOptions<'_>) -> Result<(), CommandError> {
    if !options.dry_run {
        return Err(CommandError::Usage(
            "`once` can only run with --dry-run in this version: sending to SSM is not available yet"
                .into(),
        ));
    }
    let settings = load_settings(config_path)?;
    let instance_id = match (options.instance_id, settings.agent.instance_id.as_deref()) {
        (Some(id), _) | (None, Some(id)) => id.to_string(),
        (None, None) => {
            return Err(CommandError::Usage(format!(
                "instance_id is \"auto\" in {} and automatic discovery is not available in this version; set [agent] instance_id or pass --instance-id",
                config_path.display()
            )));
        }
    };
    let probes = select(&settings, None)?;
    let mut items: Vec<Item> = Vec::new();
    let mut failed = 0usize;
    for (name, outcome) in probe::collect_all(&probes).await {
        match outcome {
            Ok(found) => items.extend(found),
            Err(e) => {
                failed += 1;
                tracing::error!(probe = %name, "{e}");
            }
        }
    }

    let sizes: Vec<batch::Sized<'_>> = items
        .iter()
        .map(|item| batch::Sized {
            bytes: wire::item_bytes(item, Payload::Full),
            key: item.type_name(),
        })
        .collect();
    let budget = Budget::new(settings.agent.max_request_bytes);
    let requests = batch::pack(&sizes, wire::request_overhead(&instance_id), budget);

    let mut stdout = std::io::stdout().lock();
    for request in &requests {
        if request.oversized {
            tracing::warn!(
                type_name = items[request.items[0]].type_name(),
                bytes = request.bytes,
                max_request_bytes = budget.max_bytes,
                "item alone is over max_request_bytes; it would be sent by itself"
            );
        }
        let members: Vec<(&Item, Payload)> = request
            .items
            .iter()
            .map(|&i| (&items[i], Payload::Full))
            .collect();
        let body = wire::request_body(&instance_id, &members);
        stdout
            .write_all(&body)
            .and_then(|()| stdout.write_all(b"\n"))
            .map_err(|e| CommandError::Runtime(format!("cannot write to stdout: {e}")))?;
    }
    tracing::info!(
        items = items.len(),
        requests = requests.len(),
        bytes = requests.iter().map(|r| r.bytes).sum::<usize>(),
        "dry run: nothing was sent"
    );
    if failed > 0 {
        return Err(CommandError::Runtime(format!(
            "{failed} of {} probes failed; their items are missing from the requests above",
            probes.len()
        )));
    }
    Ok(())
}
