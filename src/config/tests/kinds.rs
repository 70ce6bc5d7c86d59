//! The keys of each probe kind: exec, files and system.

use super::super::defaults::*;
use super::*;

#[test]
fn exec_value_errors() {
    let base = "[[probe]]\nname = \"p\"\nkind = \"exec\"\n";
    assert!(
        err(&format!("{base}type_name = \"Custom:P\"\ncommand = []\n"))
            .starts_with("c.toml:5: key `command`: is empty")
    );
    assert!(
        err(&format!(
            "{base}type_name = \"Custom:P\"\ncommand = [\"\", \"x\"]\n"
        ))
        .starts_with("c.toml:5: key `command`: the program")
    );
    assert_eq!(
        err(&format!(
            "{base}type_name = \"Custom:P\"\ncommand = \"/bin/true\"\n"
        )),
        "c.toml:5: key `command`: is a string, but without `shell = true` the command is an argv list such as [\"/usr/bin/uname\", \"-r\"]; set `shell = true` to run the string with /bin/sh -c"
    );
    assert!(
        err(&format!("{base}type_name = \"Custom:P\"\ncommand = 5\n")).starts_with(
            "c.toml:5: key `command`: invalid type: integer `5`, expected a list of strings"
        )
    );
    assert!(
        err(&format!(
            "{base}type_name = \"Custom:P\"\ncommand = [\"/bin/echo\", 1]\n"
        ))
        .starts_with("c.toml:5: key `command`: invalid type: integer")
    );
    assert_eq!(
        err(&format!("{base}command = [\"x\"]\ntype_name = \"Stage\"\n")),
        "c.toml:5: key `type_name`: TypeName `Stage` must start with `Custom:`"
    );
    assert!(
        err(&format!(
            "{base}command = [\"x\"]\ntype_name = \"AWS:Application\"\n"
        ))
        .contains("AWS: types are gathered by the SSM Agent")
    );
    assert_eq!(
        err(&format!("{EXEC}schema_version = \"1\"\n")),
        r#"c.toml:6: key `schema_version`: "1" is not a SchemaVersion: expected major.minor, 1 to 6 digits each (e.g. "1.0")"#
    );
    assert!(
        err(&format!("{EXEC}[probe.env]\nOK = \"1\"\n\"A=B\" = \"x\"\n"))
            .starts_with("c.toml:8: key `env.A=B`: an environment variable name")
    );
    assert!(
        err(&format!("{EXEC}env = {{ N = 1 }}\n"))
            .starts_with("c.toml:6: key `env.N`: invalid type: integer")
    );
    assert!(err(&format!("{EXEC}user = \"a b\"\n")).starts_with("c.toml:6: key `user`:"));
    assert!(
        err(&format!("{EXEC}keep_order = \"yes\"\n"))
            .starts_with("c.toml:6: key `keep_order`: invalid type: string")
    );
}

#[test]
fn system_and_files_errors() {
    let sys = "[[probe]]\nname = \"s\"\nkind = \"system\"\n";
    assert_eq!(
        err(&format!("{sys}collectors = [\"host\", \"gpu\"]\n")),
        "c.toml:4: key `collectors`: unknown variant `gpu`, expected one of `host`, `disks`, `network`"
    );
    assert!(
        err(&format!("{sys}collectors = []\n")).starts_with("c.toml:4: key `collectors`: is empty")
    );
    assert!(
        err(&format!("{sys}collectors = [\"host\",\n  \"host\"]\n"))
            .starts_with("c.toml:5: key `collectors`: \"host\" is listed twice")
    );
    assert!(
        err("[[probe]]\nname = \"f\"\nkind = \"files\"\npath = \"\"\n")
            .starts_with("c.toml:4: key `path`: is empty")
    );
}

#[test]
fn shell_commands() {
    let base = "[[probe]]\nname = \"p\"\nkind = \"exec\"\ntype_name = \"Custom:P\"\nshell = true\n";
    let s = ok(&format!("{base}command = \"uname -r | tr a-z A-Z\"\n"));
    let e = exec(&s.probes[0]);
    assert!(e.shell);
    assert_eq!(e.command, ["uname -r | tr a-z A-Z"]);
    let s = ok(&format!("{base}command = [\"./x.sh --flag\"]\n"));
    // The line is for the shell, not a program path to resolve.
    assert_eq!(exec(&s.probes[0]).command, ["./x.sh --flag"]);
    assert_eq!(
        err(&format!("{base}command = [\"/bin/echo\", \"hi\"]\n")),
        "c.toml:6: key `command`: has 2 elements, but with `shell = true` it is one command line for /bin/sh -c: a string, or a list of one string"
    );
    assert!(
        err(&format!("{base}command = \"  \"\n")).starts_with("c.toml:6: key `command`: is empty")
    );
    assert!(
        err(&format!("{EXEC}shell = \"yes\"\n"))
            .starts_with("c.toml:6: key `shell`: invalid type: string")
    );
}

#[test]
fn types_and_prefixes() {
    let base = "[[probe]]\nname = \"p\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n";
    // `types` alone is enough; output must then name its types.
    let s = ok(&format!("{base}types = [\"Custom:A\", \"Custom:B\"]\n"));
    let e = exec(&s.probes[0]);
    assert_eq!(e.type_name, None);
    assert_eq!(
        e.exact_types().collect::<Vec<_>>(),
        ["Custom:A", "Custom:B"]
    );
    assert!(!e.has_prefix_types());
    assert_eq!(
        err(&format!("{base}types = []\n")),
        "c.toml:5: key `types`: is empty: list the TypeNames the program may print documents for (\"Custom:A\", or \"Custom:App.*\" for a prefix), or leave the key out"
    );
    assert_eq!(
        err(&format!("{base}types = [\"Custom:A\",\n  \"Stage\"]\n")),
        "c.toml:6: key `types`: TypeName `Stage` must start with `Custom:`"
    );
    assert!(
        err(&format!("{base}types = [\"Custom:*.x\"]\n"))
            .starts_with("c.toml:5: key `types`: \"Custom:*.x\": `*` is only allowed at the end")
    );
    assert!(
        err(&format!("{base}types = [\"Custom:*\"]\n")).starts_with(
            "c.toml:5: key `types`: \"Custom:*\": TypeName `Custom:` has nothing after"
        )
    );
    assert_eq!(
        err(&format!("{base}types = [\"Custom:A\", \"Custom:A\"]\n")),
        "c.toml:5: key `types`: \"Custom:A\" is listed twice"
    );
    assert_eq!(
        err(&format!(
            "{base}type_name = \"Custom:A\"\ntypes = [\"Custom:A\"]\n"
        )),
        "c.toml:6: key `types`: \"Custom:A\" is listed twice"
    );
    assert!(
        err(&format!("{base}types = [\"Custom:A\"]\nkeep_order = 1\n"))
            .starts_with("c.toml:6: key `keep_order`")
    );
}

#[test]
fn type_claims_cover_prefixes_and_system_collectors() {
    let probe = |name: &str, keys: &str| {
        format!(
            "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n{keys}\n"
        )
    };
    let a = probe("a", "types = [\"Custom:App.*\"]");
    assert_eq!(
        err(&format!(
            "{a}{}",
            probe("b", "type_name = \"Custom:App.Web\"")
        )),
        "c.toml:10: key `type_name`: TypeName `Custom:App.Web` falls under the prefix `Custom:App.*` claimed by probe \"a\" at c.toml:5; one TypeName, one probe"
    );
    assert_eq!(
        err(&format!(
            "{}{a}",
            probe("b", "type_name = \"Custom:App.Web\"")
        )),
        "c.toml:10: key `types`: prefix `Custom:App.*` covers TypeName `Custom:App.Web`, already claimed by probe \"b\" at c.toml:5; one TypeName, one probe"
    );
    assert_eq!(
        err(&format!("{a}{}", probe("b", "types = [\"Custom:A*\"]"))),
        "c.toml:10: key `types`: prefix `Custom:A*` overlaps the prefix `Custom:App.*` claimed by probe \"a\" at c.toml:5; one TypeName, one probe"
    );
    // Within one probe, a prefix and a TypeName under it do not clash.
    ok(&probe(
        "a",
        "type_name = \"Custom:App.Main\"\ntypes = [\"Custom:App.*\"]",
    ));
    // Unrelated names do not clash with a prefix.
    ok(&format!("{a}{}", probe("b", "type_name = \"Custom:Apps\"")));

    let sys = "[[probe]]\nname = \"sys\"\nkind = \"system\"\ncollectors = [\"disks\", \"host\"]\n";
    assert_eq!(
        err(&format!(
            "{sys}{}",
            probe("b", "type_name = \"Custom:Host\"")
        )),
        "c.toml:9: key `type_name`: TypeName `Custom:Host` is already claimed by probe \"sys\" at c.toml:4; one TypeName, one probe"
    );
    assert_eq!(
        err(&format!(
            "{}{sys}",
            probe("b", "types = [\"Custom:Disks\"]")
        )),
        "c.toml:9: key `collectors`: TypeName `Custom:Disks` (from collector \"disks\") is already claimed by probe \"b\" at c.toml:5; one TypeName, one probe"
    );
    // A collector not configured leaves its TypeName free.
    ok(&format!(
        "{sys}{}",
        probe("b", "type_name = \"Custom:NetworkInterfaces\"")
    ));
    assert_eq!(Collector::Network.type_name(), "Custom:NetworkInterfaces");
}

#[test]
fn working_dir_and_max_output_bytes() {
    assert!(
        err(&format!("{EXEC}working_dir = \"\"\n"))
            .starts_with("c.toml:6: key `working_dir`: is empty")
    );
    let s = ok(&format!(
        "{EXEC}working_dir = \"/srv\"\nmax_output_bytes = 1\n"
    ));
    assert_eq!(
        exec(&s.probes[0]).working_dir.as_deref(),
        Some(Path::new("/srv"))
    );
    assert_eq!(exec(&s.probes[0]).max_output_bytes, 1);
    assert_eq!(
        err(&format!("{EXEC}max_output_bytes = 0\n")),
        "c.toml:6: key `max_output_bytes`: 0 is out of range: must be between 1 and 268435456 (256 MiB)"
    );
    assert!(
        err(&format!("{EXEC}max_output_bytes = -5\n"))
            .starts_with("c.toml:6: key `max_output_bytes`: -5 is out of range")
    );
    assert!(
        err(&format!("{EXEC}max_output_bytes = 268435457\n"))
            .starts_with("c.toml:6: key `max_output_bytes`: 268435457 is out of range")
    );
    let files = "[[probe]]\nname = \"f\"\nkind = \"files\"\n";
    for key in [
        "shell = true",
        "types = [\"Custom:A\"]",
        "working_dir = \"/\"",
        "max_output_bytes = 5",
    ] {
        let e = err(&format!("{files}{key}\n"));
        assert!(
            e.starts_with("c.toml:4: key `") && e.contains("only for exec probes"),
            "{e}"
        );
    }
}

#[test]
fn files_path_placeholders() {
    let files = "[[probe]]\nname = \"f\"\nkind = \"files\"\n";
    let s = ok(&format!(
        "{files}path = \"/var/lib/amazon/ssm/{{instance_id}}/inventory/custom\"\n"
    ));
    match &s.probes[0].kind {
        ProbeKind::Files(f) => assert_eq!(
            f.path,
            Path::new("/var/lib/amazon/ssm/{instance_id}/inventory/custom")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err(&format!("{files}path = \"/x/{{instanceid}}\"\n")),
        "c.toml:4: key `path`: \"/x/{instanceid}\" has a placeholder other than {instance_id}, the only one supported"
    );
    assert_eq!(INSTANCE_ID_PLACEHOLDER, "{instance_id}");
}
