//! The shipped unit against README.md's table of what each of its settings needs from systemd
//! ("Older systemd"): every `Key=` of the unit and of the drop-in for older systemd has a row,
//! so does every system call group they name and every value that is newer than its setting;
//! no row names something neither file uses; and the install scripts put the drop-in in place
//! on every systemd that a "breaks:" row says needs it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

const UNIT: &str = "systemd/ssm-inventoryd.service";
const DROP_IN: &str = "systemd/00-older-systemd.conf";
const README: &str = "README.md";
const SECTION: &str = "### Older systemd";
/// The scripts that install the drop-in below `compat_below=N`.
const SCRIPTS: [&str; 2] = ["packaging/debian/postinst", "packaging/rpm/post_install.sh"];
/// What the third column of a row starts with when the unit does not work below its version.
const BREAKS: &str = "breaks:";

/// Values that came in a later systemd than their setting, each needing a row of its own
/// (`Key=value`) where the unit uses it. Values that came with their setting (such as
/// `ProtectProc=invisible`, or `KeyringMode=private`) are covered by the setting's row.
const NEWER_VALUES: &[(&str, &str)] = &[
    ("ProtectSystem", "strict"),       // 232; the setting 214
    ("ProtectHome", "tmpfs"),          // 238; the setting 214
    ("NotifyAccess", "exec"),          // 233
    ("Type", "exec"),                  // 240
    ("SystemCallErrorNumber", "kill"), // 247; the setting 209
    ("SystemCallErrorNumber", "log"),  // 247
];

fn read(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

/// One `Key=value` line of a unit file.
#[derive(Debug)]
struct Setting {
    file: String,
    line: usize,
    key: String,
    value: String,
}

/// The settings of a unit file, in order: comments, blank lines and section headers skipped,
/// lines ending in a backslash joined to the next.
fn parse_unit(file: &str, text: &str) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let (line, mut joined) = match pending.take() {
            Some((first, so_far)) => (first, so_far + " " + raw.trim()),
            None => {
                let trimmed = raw.trim();
                if trimmed.is_empty()
                    || trimmed.starts_with('#')
                    || trimmed.starts_with(';')
                    || trimmed.starts_with('[')
                {
                    continue;
                }
                (index + 1, trimmed.to_string())
            }
        };
        if joined.ends_with('\\') {
            joined.pop();
            pending = Some((line, joined));
            continue;
        }
        let (key, value) = joined.split_once('=').unwrap_or((joined.as_str(), ""));
        settings.push(Setting {
            file: file.to_string(),
            line,
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        });
    }
    settings
}

/// The system call groups (`@name`) a `SystemCallFilter=` value names, with or without `~`.
fn syscall_groups(value: &str) -> impl Iterator<Item = &str> {
    value
        .trim_start_matches('~')
        .split_whitespace()
        .filter(|word| word.starts_with('@'))
        // A group may carry an errno: `@clock:EPERM`.
        .map(|word| word.split(':').next().unwrap_or(word))
}

/// One row of the table.
#[derive(Debug)]
struct Row {
    line: usize,
    /// `Key=`, `Key=value` or `@group`, as written between the backticks.
    name: String,
    /// Every number in the version column: when the setting came, and when a part of it that
    /// the unit relies on came, as in `211 (`$RUNTIME_DIRECTORY`: 240)`.
    versions: Vec<u32>,
    breaks: bool,
}

/// The table of README.md's section `SECTION`.
fn parse_table(file: &str, text: &str) -> Result<Vec<Row>, Vec<String>> {
    let mut lines = text.lines().enumerate();
    if !lines.any(|(_, line)| line.trim_end() == SECTION) {
        return Err(vec![format!("{file}: no section \"{SECTION}\"")]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in lines {
        if line.starts_with('#') {
            break;
        }
        let Some(inner) = line.trim().strip_prefix('|') else {
            continue;
        };
        let cells: Vec<&str> = inner
            .trim_end_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let line = index + 1;
        if cells.len() != 3 {
            errors.push(format!(
                "{file}:{line}: a row needs 3 cells, this one has {}",
                cells.len()
            ));
            continue;
        }
        if cells[0] == "setting" || cells[0].starts_with("---") {
            continue;
        }
        let name = cells[0].strip_prefix('`').and_then(|c| c.strip_suffix('`'));
        let Some(name) = name.filter(|n| !n.is_empty() && !n.contains('`')) else {
            errors.push(format!(
                "{file}:{line}: the first cell must be one `Key=`, `Key=value` or `@group` in backticks, not {:?}",
                cells[0]
            ));
            continue;
        };
        let versions: Vec<u32> = cells[1]
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        if versions.is_empty() {
            errors.push(format!(
                "{file}:{line}: `{name}` has no systemd version: {:?}",
                cells[1]
            ));
            continue;
        }
        rows.push(Row {
            line,
            name: name.to_string(),
            versions,
            breaks: cells[2].starts_with(BREAKS),
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// The rows the unit files need, each with where it is used first.
fn needed_rows(settings: &[Setting]) -> BTreeMap<String, String> {
    let mut needed = BTreeMap::new();
    for s in settings {
        let at = format!("{}:{}", s.file, s.line);
        needed
            .entry(format!("{}=", s.key))
            .or_insert_with(|| at.clone());
        if NEWER_VALUES.contains(&(s.key.as_str(), s.value.as_str())) {
            needed
                .entry(format!("{}={}", s.key, s.value))
                .or_insert_with(|| at.clone());
        }
        if s.key == "SystemCallFilter" {
            for group in syscall_groups(&s.value) {
                needed
                    .entry(group.to_string())
                    .or_insert_with(|| at.clone());
            }
        }
    }
    needed
}

/// Every row needed by `units` (file name, contents) against the table in `readme`: one
/// message per missing, stale or repeated row.
fn check_table(units: &[(&str, &str)], readme: (&str, &str)) -> Vec<String> {
    let rows = match parse_table(readme.0, readme.1) {
        Ok(rows) => rows,
        Err(errors) => return errors,
    };
    let settings: Vec<Setting> = units
        .iter()
        .flat_map(|(file, text)| parse_unit(file, text))
        .collect();
    let needed = needed_rows(&settings);
    let names = units
        .iter()
        .map(|(file, _)| *file)
        .collect::<Vec<_>>()
        .join(" nor ");
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for row in &rows {
        if !seen.insert(row.name.as_str()) {
            errors.push(format!(
                "{}:{}: `{}` has a second row",
                readme.0, row.line, row.name
            ));
        }
        if !needed.contains_key(&row.name) {
            errors.push(format!(
                "{}:{}: the row `{}` names something neither {names} uses; remove the row",
                readme.0, row.line, row.name
            ));
        }
    }
    for (name, at) in &needed {
        if !seen.contains(name.as_str()) {
            errors.push(format!(
                "{at}: `{name}` has no row in {}, section \"{SECTION}\": add the systemd version that introduced it and what happens below that version",
                readme.0
            ));
        }
    }
    errors
}

/// The scripts' `compat_below` against the highest version of the rows marked "breaks:".
fn check_threshold(readme: (&str, &str), scripts: &[(&str, &str)]) -> Vec<String> {
    let rows = match parse_table(readme.0, readme.1) {
        Ok(rows) => rows,
        Err(errors) => return errors,
    };
    let mut errors = Vec::new();
    let needs = rows
        .iter()
        .filter(|row| row.breaks)
        .filter_map(|row| row.versions.iter().max().map(|v| (*v, row.name.as_str())))
        .max();
    let mut thresholds = Vec::new();
    for (file, text) in scripts {
        let found: Vec<&str> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("compat_below="))
            .collect();
        match found.as_slice() {
            [value] => match value.parse::<u32>() {
                Ok(below) => thresholds.push((*file, below)),
                Err(_) => errors.push(format!("{file}: compat_below={value} is not a systemd version")),
            },
            _ => errors.push(format!(
                "{file}: needs exactly one line compat_below=N (the drop-in goes in below systemd N), found {}",
                found.len()
            )),
        }
    }
    if let Some((first_file, first)) = thresholds.first() {
        for (file, below) in &thresholds[1..] {
            if below != first {
                errors.push(format!(
                    "{file}: compat_below={below}, but {first_file} has compat_below={first}; they must agree"
                ));
            }
        }
    }
    if let Some((version, name)) = needs {
        for (file, below) in &thresholds {
            if *below < version {
                errors.push(format!(
                    "{file}: compat_below={below}, but {} marks `{name}` \"{BREAKS}\" below systemd {version}: the drop-in must go in below {version} at least",
                    readme.0
                ));
            }
        }
    }
    errors
}

fn report(errors: &[String]) -> String {
    let mut text = String::new();
    for e in errors {
        let _ = writeln!(text, "  {e}");
    }
    text
}

#[test]
fn every_setting_of_the_unit_and_the_drop_in_has_a_row_and_every_row_a_setting() {
    let (unit, drop_in, readme) = (read(UNIT), read(DROP_IN), read(README));
    let errors = check_table(&[(UNIT, &unit), (DROP_IN, &drop_in)], (README, &readme));
    assert!(
        errors.is_empty(),
        "the unit and the table disagree:\n{}",
        report(&errors)
    );
}

#[test]
fn the_scripts_install_the_drop_in_wherever_a_row_says_the_unit_breaks() {
    let readme = read(README);
    let scripts: Vec<(&str, String)> = SCRIPTS.iter().map(|s| (*s, read(s))).collect();
    let scripts: Vec<(&str, &str)> = scripts.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let errors = check_threshold((README, &readme), &scripts);
    assert!(errors.is_empty(), "{}", report(&errors));
}

#[test]
fn the_scripts_and_the_packages_agree_on_the_drop_in() {
    let name = DROP_IN.rsplit('/').next().unwrap();
    for script in SCRIPTS {
        assert!(
            read(script).contains(&format!("compat_drop_in={name}")),
            "{script}: installs some other file than {DROP_IN} (compat_drop_in={name})"
        );
    }
    // Both `assets` lists of Cargo.toml, the .deb's and the .rpm's, ship it.
    let cargo = read("Cargo.toml");
    let shipped = cargo
        .lines()
        .filter(|l| l.contains(&format!("\"{DROP_IN}\"")))
        .count();
    assert_eq!(
        shipped, 2,
        "Cargo.toml: {DROP_IN} must be in both assets lists, the .deb's and the .rpm's"
    );
}

// ---- the checks themselves, on small inputs ----------------------------------------------------

const TABLE: &str = "\
# x

### Older systemd

Text.

| setting | systemd | below that version |
|---|---|---|
| `Type=` | 1 | — |
| `ProtectSystem=` | 214 | — |
| `ProtectSystem=strict` | 232 | ignored: writable |
| `SystemCallFilter=` | 187 | — |
| `@system-service` | 239 | breaks: cannot load |
| `RuntimeDirectory=` | 211 (`$RUNTIME_DIRECTORY`: 240) | breaks: reload |

## Next
| `Stray=` | 1 | — |
";

const SMALL_UNIT: &str = "\
[Service]
# A comment: Commented=yes
Type=notify
ProtectSystem=strict
SystemCallFilter=@system-service
RuntimeDirectory=x
";

#[test]
fn a_unit_that_matches_the_table_passes() {
    assert_eq!(
        check_table(&[("t.service", SMALL_UNIT)], ("T.md", TABLE)),
        Vec::<String>::new()
    );
}

#[test]
fn an_unlisted_directive_is_reported_by_name_and_file() {
    let unit = format!("{SMALL_UNIT}Bogus=yes\n");
    let errors = check_table(&[("t.service", &unit)], ("T.md", TABLE));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("t.service:7: `Bogus=` has no row in T.md"),
        "{errors:?}"
    );
}

#[test]
fn a_continued_line_is_one_setting() {
    let unit = format!("{SMALL_UNIT}ExecStartPre=/bin/true \\\n    Continued=no\n");
    let errors = check_table(&[("t.service", &unit)], ("T.md", TABLE));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("t.service:7: `ExecStartPre=` has no row"),
        "{errors:?}"
    );
}

#[test]
fn an_unlisted_group_and_an_unlisted_newer_value_are_reported() {
    let unit = SMALL_UNIT.replace(
        "@system-service",
        "@system-service\nSystemCallFilter=~@clock:EPERM @mount",
    ) + "[Service]\nProtectHome=tmpfs\n";
    let errors = check_table(
        &[("t.service", &unit), ("d.conf", "[Service]\nType=exec\n")],
        ("T.md", TABLE),
    );
    let joined = errors.join("\n");
    for expected in [
        "t.service:6: `@clock` has no row",
        "t.service:6: `@mount` has no row",
        "t.service:9: `ProtectHome=` has no row",
        "t.service:9: `ProtectHome=tmpfs` has no row",
        "d.conf:2: `Type=exec` has no row",
    ] {
        assert!(joined.contains(expected), "{expected:?} not in:\n{joined}");
    }
    assert_eq!(errors.len(), 5, "{joined}");
}

#[test]
fn a_row_for_a_setting_no_longer_used_is_reported() {
    let unit = SMALL_UNIT.replace("ProtectSystem=strict\n", "ProtectSystem=full\n");
    let errors = check_table(&[("t.service", &unit), ("d.conf", "")], ("T.md", TABLE));
    assert_eq!(
        errors,
        [
            "T.md:11: the row `ProtectSystem=strict` names something neither t.service nor d.conf uses; remove the row"
        ]
    );
}

#[test]
fn a_repeated_row_and_a_row_without_a_version_are_reported() {
    let table = TABLE.replace(
        "| `Type=` | 1 | — |",
        "| `Type=` | 1 | — |\n| `Type=` | 1 | — |",
    );
    let errors = check_table(&[("t.service", SMALL_UNIT)], ("T.md", &table));
    assert_eq!(errors, ["T.md:10: `Type=` has a second row"]);
    let table = TABLE.replace("| `Type=` | 1 |", "| `Type=` | old |");
    let errors = check_table(&[("t.service", SMALL_UNIT)], ("T.md", &table));
    assert_eq!(errors, ["T.md:9: `Type=` has no systemd version: \"old\""]);
}

#[test]
fn a_threshold_below_a_breaking_row_or_scripts_that_disagree_are_reported() {
    let good = [
        ("a.sh", "x=1\ncompat_below=240\n"),
        ("b.sh", "  compat_below=240\n"),
    ];
    assert_eq!(
        check_threshold(("T.md", TABLE), &good),
        Vec::<String>::new()
    );

    // 239 covers `@system-service` but not `$RUNTIME_DIRECTORY`, which only counts because it
    // is the highest number in its row's version column.
    let low = [
        ("a.sh", "compat_below=239\n"),
        ("b.sh", "compat_below=239\n"),
    ];
    let errors = check_threshold(("T.md", TABLE), &low);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("a.sh: compat_below=239, but T.md marks `RuntimeDirectory=` \"breaks:\" below systemd 240"),
        "{errors:?}"
    );

    let apart = [
        ("a.sh", "compat_below=240\n"),
        ("b.sh", "compat_below=241\n"),
    ];
    assert_eq!(
        check_threshold(("T.md", TABLE), &apart),
        ["b.sh: compat_below=241, but a.sh has compat_below=240; they must agree"]
    );

    let missing = [("a.sh", "compat_below=240\n"), ("b.sh", "nothing\n")];
    let errors = check_threshold(("T.md", TABLE), &missing);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("b.sh: needs exactly one line compat_below=N"),
        "{errors:?}"
    );
}
