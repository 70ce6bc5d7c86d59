//! The files probe against real folders.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use super::*;

fn probe(folder: &Path) -> FilesProbe {
    FilesProbe::new("agent-files", folder, true)
}

fn write(folder: &Path, name: &str, text: &str) {
    fs::write(folder.join(name), text).unwrap();
}

async fn collect(p: &FilesProbe) -> Collection {
    p.collect(&CollectContext::default()).await.unwrap()
}

fn types(c: &Collection) -> Vec<&str> {
    c.items.iter().map(Item::type_name).collect()
}

const RACK: &str = r#"{"SchemaVersion": "1.0", "TypeName": "Custom:RackInfo", "Content": {"RackLocation": "Bay B", "Slot": "3"}}"#;
const APPS: &str = r#"{"SchemaVersion": "2.1", "TypeName": "Custom:Apps", "Content": [{"Name": "a", "Port": "80"}, {"Name": "b", "Port": "443"}]}"#;

#[tokio::test]
async fn ssm_agent_documents_are_collected_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "rack.json", RACK);
    write(tmp.path(), "apps.json", APPS);
    let c = collect(&probe(tmp.path())).await;
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(types(&c), ["Custom:Apps", "Custom:RackInfo"]);
    let apps = &c.items[0];
    assert_eq!(apps.schema_version(), "2.1");
    let content = apps.content();
    let rows: Vec<Vec<(&str, &str)>> = content
        .iter()
        .map(|r| r.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec![("Name", "a"), ("Port", "80")],
            vec![("Name", "b"), ("Port", "443")]
        ]
    );
    let rack = &c.items[1];
    assert_eq!(rack.schema_version(), "1.0");
    assert_eq!(rack.content().len(), 1);
    assert_eq!(rack.content()[0]["RackLocation"], "Bay B");
}

#[tokio::test]
async fn ignored_names_are_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "rack.json", RACK);
    for junk in [
        ".hidden.json",
        "x.json.tmp",
        "x.json~",
        ".#x.json",
        ".x.json.swp",
        "x.swp",
        "notes.txt",
        ".json",
    ] {
        write(tmp.path(), junk, "garbage");
    }
    fs::create_dir(tmp.path().join("dir.json")).unwrap();
    let c = collect(&probe(tmp.path())).await;
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(types(&c), ["Custom:RackInfo"]);
    assert!(is_document_name(OsStr::new("UPPER.JSON")));
}

#[tokio::test]
async fn a_bad_file_is_reported_and_the_others_still_collected() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "a-rack.json", RACK);
    write(
        tmp.path(),
        "b-bad.json",
        r#"{"TypeName": "Custom:Bad", "Content": [{"x": {"nested": 1}}]}"#,
    );
    write(tmp.path(), "c-apps.json", APPS);
    write(tmp.path(), "d-rows.json", r#"[{"a": "1"}]"#);
    write(
        tmp.path(),
        "e-aws.json",
        r#"{"TypeName": "AWS:Application", "Content": []}"#,
    );
    let c = collect(&probe(tmp.path())).await;
    assert_eq!(types(&c), ["Custom:RackInfo", "Custom:Apps"]);
    let errors: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    let bad = tmp.path().join("b-bad.json");
    assert_eq!(
        errors[0],
        format!(
            "probe `agent-files`: {}: content $.Content[0].x holds an object; attribute values must be strings, numbers or booleans, not nested values",
            bad.display()
        )
    );
    assert!(
        errors[1].contains("d-rows.json: has no TypeName"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("e-aws.json: TypeName `AWS:Application` must start with `Custom:`"),
        "{}",
        errors[2]
    );
}

#[tokio::test]
async fn the_first_file_by_name_keeps_a_type() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "10-rack.json", RACK);
    write(
        tmp.path(),
        "20-rack.json",
        r#"{"TypeName": "Custom:RackInfo", "Content": {"RackLocation": "elsewhere"}}"#,
    );
    let c = collect(&probe(tmp.path())).await;
    assert_eq!(types(&c), ["Custom:RackInfo"]);
    assert_eq!(c.items[0].content()[0]["RackLocation"], "Bay B");
    assert_eq!(c.errors.len(), 1);
    let e = c.errors[0].to_string();
    assert!(
        e.contains("20-rack.json: TypeName `Custom:RackInfo` is already in")
            && e.contains("10-rack.json"),
        "{e}"
    );
}

#[tokio::test]
async fn a_file_gone_bad_keeps_its_last_good_content_until_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let p = probe(tmp.path());
    write(tmp.path(), "rack.json", RACK);
    let good = collect(&p).await;
    write(
        tmp.path(),
        "rack.json",
        r#"{"TypeName": "Custom:RackInfo", "Cont"#,
    );
    let bad = collect(&p).await;
    assert_eq!(bad.errors.len(), 1);
    assert_eq!(bad.items, good.items);
    fs::remove_file(tmp.path().join("rack.json")).unwrap();
    let gone = collect(&p).await;
    assert!(gone.items.is_empty() && gone.errors.is_empty());
    // Back, still bad: nothing good to keep any more.
    write(tmp.path(), "rack.json", "[");
    let back = collect(&p).await;
    assert!(back.items.is_empty());
    assert_eq!(back.errors.len(), 1);
}

#[tokio::test]
async fn a_missing_folder_is_empty_and_an_unreadable_one_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let c = collect(&probe(&tmp.path().join("missing"))).await;
    assert!(c.items.is_empty() && c.errors.is_empty());
    let file = tmp.path().join("file");
    fs::write(&file, "").unwrap();
    let e = probe(&file)
        .collect(&CollectContext::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::Folder { .. }), "{e}");
}

#[tokio::test]
async fn the_instance_id_is_filled_in() {
    let tmp = tempfile::tempdir().unwrap();
    let id = "i-0123456789abcdef0";
    let folder = tmp.path().join(id).join("inventory/custom");
    fs::create_dir_all(&folder).unwrap();
    write(&folder, "rack.json", RACK);
    let p = probe(&tmp.path().join("{instance_id}/inventory/custom"));
    assert!(p.needs_instance_id());
    let e = p.collect(&CollectContext::default()).await.unwrap_err();
    assert!(matches!(e, ProbeError::InstanceIdUnknown { .. }), "{e}");
    let e = p
        .collect(&CollectContext::with_instance_id("../../etc"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::InstanceIdUnknown { .. }), "{e}");
    let c = p
        .collect(&CollectContext::with_instance_id(id))
        .await
        .unwrap();
    assert_eq!(types(&c), ["Custom:RackInfo"]);
}

#[tokio::test]
async fn untrusted_folders_and_files_are_refused_when_root() {
    if !trust::root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("custom.d");
    fs::create_dir(&folder).unwrap();
    write(&folder, "rack.json", RACK);
    write(&folder, "apps.json", APPS);
    fs::set_permissions(folder.join("apps.json"), fs::Permissions::from_mode(0o666)).unwrap();
    let c = collect(&probe(&folder)).await;
    assert_eq!(types(&c), ["Custom:RackInfo"]);
    assert!(
        c.errors[0].to_string().contains("apps.json: refused:"),
        "{}",
        c.errors[0]
    );

    fs::set_permissions(&folder, fs::Permissions::from_mode(0o777)).unwrap();
    let e = probe(&folder)
        .collect(&CollectContext::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refusing to read its folder"), "{e}");
    let relaxed = FilesProbe::new("agent-files", &folder, false);
    assert_eq!(
        types(&collect(&relaxed).await),
        ["Custom:Apps", "Custom:RackInfo"]
    );
}

mod watching {
    use super::*;

    /// The watcher as a files probe sets it up.
    fn watch(folder: &Path) -> Result<tokio::sync::mpsc::Receiver<()>, crate::watch::WatchError> {
        crate::watch::watch(folder, is_document_name)
    }

    /// The acceptance bound: a change is noticed within 5 s.
    const WITHIN: Duration = Duration::from_secs(5);

    async fn fires(rx: &mut tokio::sync::mpsc::Receiver<()>) -> bool {
        tokio::time::timeout(WITHIN, rx.recv())
            .await
            .is_ok_and(|m| m.is_some())
    }

    /// Waits until nothing arrives for a while, so the next check sees only new changes.
    async fn quiet(rx: &mut tokio::sync::mpsc::Receiver<()>) {
        while tokio::time::timeout(Duration::from_millis(1500), rx.recv())
            .await
            .is_ok()
        {}
    }

    #[tokio::test]
    async fn a_file_renamed_into_the_folder_fires() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("custom.d");
        fs::create_dir(&folder).unwrap();
        let mut rx = watch(&folder).unwrap();
        quiet(&mut rx).await;
        // Written elsewhere, then renamed in: the SSM-Agent-style atomic update.
        let staging = tmp.path().join("rack.json");
        fs::write(&staging, RACK).unwrap();
        fs::rename(&staging, folder.join("rack.json")).unwrap();
        assert!(
            fires(&mut rx).await,
            "no message after a rename into the folder"
        );

        quiet(&mut rx).await;
        fs::remove_file(folder.join("rack.json")).unwrap();
        assert!(fires(&mut rx).await, "no message after a removal");
    }

    #[tokio::test]
    async fn ignored_files_do_not_fire_and_a_late_folder_is_picked_up() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("later");
        let mut rx = watch(&folder).unwrap();
        fs::create_dir(&folder).unwrap();
        assert!(fires(&mut rx).await, "no message when the folder appeared");
        quiet(&mut rx).await;
        fs::write(folder.join(".x.json.tmp"), "x").unwrap();
        fs::write(folder.join("notes.txt"), "x").unwrap();
        // Reading the folder, as the probe does, is not a change either.
        collect(&probe(&folder)).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(1500), rx.recv())
                .await
                .is_err(),
            "ignored files caused a message"
        );
        fs::write(folder.join("x.json"), RACK).unwrap();
        assert!(
            fires(&mut rx).await,
            "no message for a new document in the re-armed watch"
        );
    }

    #[tokio::test]
    async fn the_thread_ends_when_the_receiver_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let rx = watch(tmp.path()).unwrap();
        drop(rx);
        // Nothing to assert beyond not hanging or panicking; the thread exits within a second.
        fs::write(tmp.path().join("a.json"), RACK).unwrap();
    }
}
