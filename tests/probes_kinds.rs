//! The `files` and `system` probes, the trust checks and the shipped example configuration,
//! through the real binary (`collect`, `validate`) and through the probe API the daemon uses.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use ssm_inventoryd::config;
use ssm_inventoryd::inventory::{Item, RawItem, Row};
use ssm_inventoryd::probe::{CollectContext, Probe};

struct Outcome {
    code: Option<i32>,
    items: Vec<Value>,
    stderr: String,
}

fn run(args: &[&str], config: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run ssm-inventoryd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let items = if args.first() == Some(&"collect") {
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    } else {
        Vec::new()
    };
    Outcome {
        code: out.status.code(),
        items,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn collect(config: &Path, probe: Option<&str>) -> Outcome {
    match probe {
        Some(p) => run(&["collect", "--probe", p], config),
        None => run(&["collect"], config),
    }
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.toml");
    fs::write(&path, format!("[agent]\nprobes_dir = \"none\"\n\n{text}")).expect("write config");
    path
}

/// Checks a printed item the way the service would: rebuilt through the validating
/// constructor, it must come out with the same ContentHash.
fn assert_valid(item: &Value) {
    let text = |k: &str| {
        item[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {item}"))
            .to_owned()
    };
    let rows: Vec<Row> = serde_json::from_value(item["Content"].clone()).expect("rows");
    let rebuilt = Item::new(RawItem {
        type_name: text("TypeName"),
        schema_version: text("SchemaVersion"),
        capture_time: text("CaptureTime"),
        rows,
        context: None,
        keep_order: true,
    })
    .unwrap_or_else(|e| panic!("{e}: {item}"));
    assert_eq!(rebuilt.content_hash(), text("ContentHash"), "{item}");
    assert!(text("TypeName").starts_with("Custom:"));
}

mod files {
    use super::*;

    const OBJECT: &str = r#"{
    "SchemaVersion": "1.0",
    "TypeName": "Custom:RackInfo",
    "Content": {"RackLocation": "Bay B", "Slot": "3", "Row": "12"}
}"#;
    const ARRAY: &str = r#"{"SchemaVersion": "1.2", "TypeName": "Custom:Apps", "Content": [
    {"Name": "billing", "Port": "8443", "Owner": "payments"},
    {"Name": "api", "Port": "443", "Owner": "platform"}
]}"#;

    fn folder_config(tmp: &Path, folder: &Path) -> PathBuf {
        write_config(
            tmp,
            &format!(
                "[[probe]]\nname = \"agent-files\"\nkind = \"files\"\npath = \"{}\"\n",
                folder.display()
            ),
        )
    }

    /// Content as the SSM Agent sends it: an object is one row, an array is the rows.
    fn rows_of(document: &str) -> Vec<Value> {
        let doc: Value = serde_json::from_str(document).expect("document");
        match &doc["Content"] {
            Value::Array(rows) => rows.clone(),
            row => vec![row.clone()],
        }
    }

    fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
        rows.sort_by_key(|r| r.to_string());
        rows
    }

    #[test]
    fn documents_written_for_the_ssm_agent_are_collected_unchanged() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let folder = tmp.path().join("custom");
        fs::create_dir(&folder).expect("mkdir");
        fs::write(folder.join("RackInfo.json"), OBJECT).expect("write");
        fs::write(folder.join("Apps.json"), ARRAY).expect("write");
        let config = folder_config(tmp.path(), &folder);

        let out = collect(&config, Some("agent-files"));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let by_type: BTreeMap<&str, &Value> = out
            .items
            .iter()
            .map(|i| (i["TypeName"].as_str().unwrap_or_default(), i))
            .collect();
        assert_eq!(
            by_type.keys().copied().collect::<Vec<_>>(),
            ["Custom:Apps", "Custom:RackInfo"]
        );
        for (type_name, document, version) in [
            ("Custom:RackInfo", OBJECT, "1.0"),
            ("Custom:Apps", ARRAY, "1.2"),
        ] {
            let item = by_type[type_name];
            assert_valid(item);
            assert_eq!(item["SchemaVersion"], version);
            let content = item["Content"].as_array().expect("content").clone();
            // Rows are sorted for hashing; as a set they are exactly the file's.
            assert_eq!(sorted(content), sorted(rows_of(document)), "{type_name}");
        }
    }

    #[test]
    fn a_bad_file_next_to_good_ones_does_not_stop_them() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let folder = tmp.path().join("custom");
        fs::create_dir(&folder).expect("mkdir");
        fs::write(folder.join("a.json"), OBJECT).expect("write");
        fs::write(
            folder.join("b.json"),
            r#"{"TypeName": "Custom:Broken", "Content": [{"Vendor": "x"}, {"vendor": "y"}]}"#,
        )
        .expect("write");
        fs::write(folder.join("c.json"), ARRAY).expect("write");
        fs::write(folder.join("d.json"), "{ not json").expect("write");
        fs::write(folder.join(".e.json.tmp"), "{ half written").expect("write");
        let config = folder_config(tmp.path(), &folder);

        let out = collect(&config, None);
        assert_eq!(
            out.code,
            Some(1),
            "bad files make `collect` fail: {}",
            out.stderr
        );
        let types: Vec<&str> = out
            .items
            .iter()
            .filter_map(|i| i["TypeName"].as_str())
            .collect();
        assert_eq!(types, ["Custom:RackInfo", "Custom:Apps"]);
        out.items.iter().for_each(assert_valid);
        let b = folder.join("b.json");
        let d = folder.join("d.json");
        assert!(
            out.stderr.contains(&format!(
                "probe `agent-files`: {}: Custom:Broken: row 1 spells attribute `vendor` differently from `Vendor`",
                b.display()
            )),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!(
                "probe `agent-files`: {}: content is not valid JSON",
                d.display()
            )),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains(".e.json.tmp"), "{}", out.stderr);

        fs::remove_file(&b).expect("rm");
        fs::remove_file(&d).expect("rm");
        assert_eq!(collect(&config, None).code, Some(0));
    }

    /// The watch the daemon subscribes to: a document renamed into the folder (the way the
    /// SSM Agent's writers and config management update it) is signalled within 5 s.
    #[tokio::test]
    async fn the_watch_fires_for_a_file_renamed_into_the_folder() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let folder = tmp.path().join("custom");
        fs::create_dir(&folder).expect("mkdir");
        let config = folder_config(tmp.path(), &folder);
        let settings = config::load_local(&config).expect("config");
        let probe = Probe::from_settings(&settings.probes[0]);
        let ctx = CollectContext::default();
        let mut wake = probe
            .watch(&ctx)
            .expect("watch")
            .expect("a files probe can be watched");
        assert!(
            probe
                .collect_detailed(&ctx)
                .await
                .expect("empty folder")
                .items
                .is_empty()
        );

        let staged = tmp.path().join("RackInfo.json.new");
        fs::write(&staged, OBJECT).expect("write");
        fs::rename(&staged, folder.join("RackInfo.json")).expect("rename");
        let fired = tokio::time::timeout(Duration::from_secs(5), wake.recv()).await;
        assert!(matches!(fired, Ok(Some(()))), "no wake-up within 5 s");
        let collected = probe.collect_detailed(&ctx).await.expect("collect");
        assert_eq!(collected.items.len(), 1);
        assert_eq!(collected.items[0].type_name(), "Custom:RackInfo");

        // Exec and system probes have nothing to watch.
        let sys = config::load_str(
            Path::new("c.toml"),
            "[[probe]]\nname = \"s\"\nkind = \"system\"\n",
        )
        .expect("config");
        assert!(
            Probe::from_settings(&sys.probes[0])
                .watch(&ctx)
                .expect("no error")
                .is_none()
        );
    }

    #[test]
    fn the_instance_id_comes_from_the_configuration() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let id = "i-0123456789abcdef0";
        let folder = tmp.path().join(id).join("inventory").join("custom");
        fs::create_dir_all(&folder).expect("mkdir");
        fs::write(folder.join("RackInfo.json"), OBJECT).expect("write");
        let path = fs::canonicalize(tmp.path())
            .expect("canonical")
            .join("{instance_id}/inventory/custom");
        let config = tmp.path().join("config.toml");
        fs::write(
            &config,
            format!(
                "[agent]\ninstance_id = \"{id}\"\nprobes_dir = \"none\"\n\n[[probe]]\nname = \"agent\"\nkind = \"files\"\npath = \"{}\"\n",
                path.display()
            ),
        )
        .expect("write config");
        let out = collect(&config, None);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(out.items[0]["TypeName"], "Custom:RackInfo");
    }
}

mod system {
    use super::*;

    /// On an idle node two collections give the same ContentHash for each type, so the
    /// second push sends nothing.
    #[test]
    fn two_collections_give_identical_hashes() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let config = write_config(tmp.path(), "[[probe]]\nname = \"sys\"\nkind = \"system\"\n");
        let hashes = || -> BTreeMap<String, String> {
            let out = collect(&config, Some("sys"));
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            out.items.iter().for_each(assert_valid);
            out.items
                .iter()
                .map(|i| {
                    (
                        i["TypeName"].as_str().unwrap_or_default().to_owned(),
                        i["ContentHash"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        };
        let first = hashes();
        std::thread::sleep(Duration::from_secs(1));
        let second = hashes();
        assert_eq!(
            first.keys().map(String::as_str).collect::<Vec<_>>(),
            ["Custom:Disks", "Custom:Host", "Custom:NetworkInterfaces"]
        );
        assert_eq!(first, second);
    }
}

mod trust {
    use super::*;

    fn running_as_root() -> bool {
        crate::common::skip::as_root("needs root: the trust checks apply only to root")
    }

    /// sshd-style: as root, a probe file its group may write is refused, by `validate` and
    /// by `collect`, naming the file; `strict_permissions = false` allows it.
    #[test]
    fn a_group_writable_probe_file_is_refused_unless_opted_out() {
        if !running_as_root() {
            return;
        }
        let tmp = tempfile::tempdir().expect("temp dir");
        let main = tmp.path().join("config.toml");
        fs::write(&main, "").expect("write");
        let dir = tmp.path().join("probes.d");
        fs::create_dir(&dir).expect("mkdir");
        let probe_file = dir.join("stage.toml");
        fs::write(
            &probe_file,
            "[[probe]]\nname = \"stage\"\nkind = \"exec\"\ntype_name = \"Custom:StageInfo\"\ncommand = [\"/bin/echo\", '{\"Stage\":\"x\"}']\n",
        )
        .expect("write");
        fs::set_permissions(&probe_file, fs::Permissions::from_mode(0o664)).expect("chmod");

        for args in [&["validate"][..], &["collect"][..]] {
            let out = run(args, &main);
            assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
            let expected = format!(
                "error: {0}: refused: {0} is writable by its group (mode 0664)",
                probe_file.display()
            );
            assert!(out.stderr.contains(&expected), "{args:?}: {}", out.stderr);
        }

        fs::write(&main, "[agent]\nstrict_permissions = false\n").expect("write");
        let out = collect(&main, None);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(out.items[0]["TypeName"], "Custom:StageInfo");
    }

    /// The same for an exec program: a program its group may change is not run.
    #[test]
    fn a_group_writable_program_is_not_run() {
        if !running_as_root() {
            return;
        }
        let tmp = tempfile::tempdir().expect("temp dir");
        let program = tmp.path().join("stage.sh");
        fs::write(&program, "#!/bin/sh\necho '{\"Stage\":\"x\"}'\n").expect("write");
        fs::set_permissions(&program, fs::Permissions::from_mode(0o775)).expect("chmod");
        let config = write_config(
            tmp.path(),
            "[[probe]]\nname = \"stage\"\nkind = \"exec\"\ntype_name = \"Custom:StageInfo\"\ncommand = [\"./stage.sh\"]\n",
        );
        let out = collect(&config, None);
        assert_eq!(out.code, Some(1));
        assert!(
            out.stderr.contains(&format!(
                "probe `stage`: refusing to run its program: {} is writable by its group (mode 0775)",
                program.display()
            )),
            "{}",
            out.stderr
        );
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(collect(&config, None).code, Some(0));
    }
}

mod example {
    use super::*;

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ssm-inventoryd.toml")
    }

    /// The shipped example has a probe of each kind, and `collect` on it prints valid items
    /// from all of them that have something to report on a fresh node.
    #[test]
    fn the_example_exercises_every_kind_and_prints_valid_items() {
        let settings = config::load_local(&example()).expect("the example is valid");
        let mut kinds: Vec<&str> = settings.probes.iter().map(|p| p.kind.as_str()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds, ["exec", "files", "system"]);

        let out = collect(&example(), None);
        out.items.iter().for_each(assert_valid);
        let types: Vec<&str> = out
            .items
            .iter()
            .filter_map(|i| i["TypeName"].as_str())
            .collect();
        for expected in [
            "Custom:Kernel",
            "Custom:LoginShells",
            "Custom:StageInfo",
            "Custom:Host",
            "Custom:Disks",
            "Custom:NetworkInterfaces",
        ] {
            assert!(
                types.contains(&expected),
                "{expected} missing from {types:?}"
            );
        }
        // The files probe reads /var/lib/ssm-inventoryd/custom.d: on a fresh node it does not
        // exist, which is a warning, not a failure.
        if !Path::new("/var/lib/ssm-inventoryd/custom.d").exists() {
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            assert!(
                out.stderr.contains("does not exist; no files to collect"),
                "{}",
                out.stderr
            );
        }

        // One probe at a time, as an operator writing a probe would.
        let one = collect(&example(), Some("stage"));
        assert_eq!(one.code, Some(0), "{}", one.stderr);
        assert_eq!(one.items.len(), 1);
        assert_eq!(one.items[0]["Content"][0]["Stage"], "PreProd");
        let unknown = collect(&example(), Some("nope"));
        assert_eq!(unknown.code, Some(2));
    }
}
