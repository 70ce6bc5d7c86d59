use std::path::Path;

use super::*;
use crate::config;

fn exec_probe(keys: &str) -> Probe {
    let text = format!("[[probe]]\nname = \"p\"\nkind = \"exec\"\nshell = true\n{keys}\n");
    let settings = match config::load_str(Path::new("/etc/x/config.toml"), &text) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    Probe::from_settings(&settings.probes[0])
}

fn types(items: &[Item]) -> Vec<&str> {
    items.iter().map(Item::type_name).collect()
}

#[tokio::test]
async fn several_documents_need_declared_types() {
    let docs = r#"command = '''echo '[{"TypeName":"Custom:A","Content":{"x":"1"}},{"TypeName":"Custom:App.Web","SchemaVersion":"2.0","Content":[]}]' '''"#;
    let p = exec_probe(&format!("{docs}\ntypes = [\"Custom:A\", \"Custom:App.*\"]"));
    assert_eq!(p.declared_types(), ["Custom:A"]);
    assert!(
        p.has_dynamic_types(),
        "a prefix makes the set of types open"
    );
    let items = p.collect().await.unwrap();
    assert_eq!(types(&items), ["Custom:A", "Custom:App.Web"]);
    assert_eq!(items[1].schema_version(), "2.0");

    let p = exec_probe(&format!("{docs}\ntype_name = \"Custom:A\""));
    assert!(!p.has_dynamic_types());
    let e = p.collect().await.unwrap_err().to_string();
    assert_eq!(
        e,
        "probe `p`: printed TypeName `Custom:App.Web`, which the probe does not declare (it may print `Custom:A`); add it to `types`"
    );
}

#[tokio::test]
async fn rows_need_a_type_name_and_types_appear_once() {
    let p = exec_probe("command = '''echo '[{\"x\":\"1\"}]' '''\ntypes = [\"Custom:A\"]");
    let e = p.collect().await.unwrap_err();
    assert!(matches!(e, ProbeError::NoTypeName { .. }), "{e}");
    let p = exec_probe(
        "command = '''echo '[{\"TypeName\":\"Custom:A\",\"Content\":[]},{\"TypeName\":\"Custom:A\",\"Content\":[]}]' '''\ntype_name = \"Custom:A\"",
    );
    let e = p.collect().await.unwrap_err().to_string();
    assert_eq!(
        e,
        "probe `p`: printed TypeName `Custom:A` twice; one document per type"
    );
}

#[tokio::test]
async fn kinds_describe_their_types() {
    let text = "[[probe]]\nname = \"f\"\nkind = \"files\"\npath = \"/x/{instance_id}\"\n\n[[probe]]\nname = \"s\"\nkind = \"system\"\ncollectors = [\"network\", \"host\"]\n";
    let settings = config::load_str(Path::new("c.toml"), text).unwrap();
    let files = Probe::from_settings(&settings.probes[0]);
    let system = Probe::from_settings(&settings.probes[1]);
    assert!(files.has_dynamic_types() && files.declared_types().is_empty());
    assert!(files.needs_instance_id());
    let e = files
        .collect_detailed(&CollectContext::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::InstanceIdUnknown { .. }), "{e}");
    assert_eq!(e.probe(), "f");
    assert!(!system.has_dynamic_types() && !system.needs_instance_id());
    assert_eq!(
        system.declared_types(),
        ["Custom:NetworkInterfaces", "Custom:Host"]
    );
}
