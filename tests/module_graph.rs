//! The module graph of `src/` has no loops, and only `daemon` and `commands` use `daemon` and
//! `commands`.
//!
//! Files are the nodes (`a/mod.rs` counts as module `a`), and a file's paths into the crate
//! (`use crate::…`, `crate::…` in code, `super::…`, `self::…`, and a child module named by
//! its bare name) are the edges, each to the file that defines the longest module prefix of
//! the path. The rules, as stated in docs/ARCHITECTURE.md ("Module rules"):
//!
//! * A module declaring a child (`mod x;`) depends on it: the child is part of it.
//! * A file naming one of its own ancestors (`super::`, or `crate::a` from inside `a/`) is
//!   not an edge: the ancestor's items are the context its parts are written in. Siblings
//!   and cousins reached through `super::x` are ordinary edges.
//! * Test code is not part of the graph: `#[cfg(test)]` items, whether inline blocks or
//!   whole files declared with `#[cfg(test)] mod x;`, may reach anywhere.
//! * `src/lib.rs` only declares modules; `src/main.rs` is the binary, a crate of its own.
//!
//! The checker reads the source text itself (comments, strings and character literals
//! removed) rather than asking the compiler, so it runs with the other tests and needs no
//! tool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that only the top layer may use, and the top layer itself.
const TOP: &[&str] = &["daemon", "commands"];

#[test]
fn the_module_graph_has_no_loops_and_nothing_reaches_the_top() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_tree(&root);
    assert!(
        files.len() > 20,
        "expected the crate's sources under {}",
        root.display()
    );
    let graph = Graph::build(&files);
    let problems = graph.problems();
    assert!(
        problems.is_empty(),
        "the module graph of src/ breaks its rules:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_synthetic_loop_is_found_and_named_file_by_file() {
    let files = tree(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod daemon;\n",
        ),
        ("a.rs", "use crate::b::Thing;\npub struct A;\n"),
        (
            "b.rs",
            "// use crate::daemon::X; is only a comment\npub struct Thing(crate::c::C);\n",
        ),
        (
            "c/mod.rs",
            "mod inner;\npub use inner::C;\n#[cfg(test)]\nmod tests { use crate::daemon::Run; }\n",
        ),
        (
            "c/inner.rs",
            "use super::super::a::A;\nuse super::C as Parent;\npub struct C;\nconst S: &str = \"crate::daemon::Nope\";\n",
        ),
        ("daemon/mod.rs", "use crate::{a::A, c};\npub struct Run;\n"),
    ]);
    let graph = Graph::build(&files);
    let problems = graph.problems();
    assert_eq!(
        problems,
        vec![
            "loop: a.rs → b.rs → c/mod.rs → c/inner.rs → a.rs\n  \
             a.rs:1 names crate::b::Thing\n  \
             b.rs:2 names crate::c::C\n  \
             c/mod.rs:1 names mod inner\n  \
             c/inner.rs:1 names super::super::a::A"
                .to_string()
        ],
        "{problems:#?}"
    );

    // Cutting the last edge leaves no loop; a file outside the top reaching into it is named.
    let mut files = files;
    files.insert(
        PathBuf::from("c/inner.rs"),
        "use crate::daemon::Run;\npub struct C;\n".into(),
    );
    files.insert(PathBuf::from("daemon/mod.rs"), "pub struct Run;\n".into());
    let problems = Graph::build(&files).problems();
    assert_eq!(
        problems,
        vec![
            "c/inner.rs:1 names crate::daemon::Run, but only daemon and commands may use daemon"
                .to_string()
        ],
        "{problems:#?}"
    );
}

#[test]
fn child_modules_may_use_their_parents_but_siblings_may_not_loop() {
    let files = tree(&[
        ("lib.rs", "pub mod logging;\n"),
        (
            "logging/mod.rs",
            "mod journal;\nmod sink;\npub fn escape() {}\nfn f() { journal::write(); }\n",
        ),
        (
            "logging/journal.rs",
            "use super::escape;\nuse crate::logging::sink::Sink;\npub fn write() {}\n",
        ),
        (
            "logging/sink.rs",
            "pub struct Sink;\nfn g() { super::journal::write(); }\n",
        ),
    ]);
    let problems = Graph::build(&files).problems();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with("loop: logging/journal.rs → logging/sink.rs → logging/journal.rs"),
        "{problems:#?}"
    );
}

fn tree(files: &[(&str, &str)]) -> BTreeMap<PathBuf, String> {
    files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), text.to_string()))
        .collect()
}

/// Every `.rs` file under `root`, by its path relative to `root`.
fn read_tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                let relative = path
                    .strip_prefix(root)
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| path.clone());
                files.insert(relative, text);
            }
        }
    }
    files
}

/// A module path: `["fleet", "poll"]`; the crate root is empty.
type ModPath = Vec<String>;

/// The module a file defines: `a/mod.rs` and `a.rs` are `a`, `lib.rs` is the root.
fn module_of(file: &Path) -> Option<ModPath> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    match stem {
        "lib" if parts.is_empty() => {}
        // The binary is a crate of its own and reaches the library by its name.
        "main" if parts.is_empty() => return None,
        "mod" => {}
        _ => parts.push(stem.to_string()),
    }
    Some(parts)
}

fn display(file: &Path) -> String {
    file.to_string_lossy().replace('\\', "/")
}

/// One path into the crate, as written, and where.
#[derive(Debug, Clone)]
struct Reference {
    line: usize,
    text: String,
}

struct Graph {
    /// Each file's outgoing edges: target file → the first reference that made the edge.
    edges: BTreeMap<PathBuf, BTreeMap<PathBuf, Reference>>,
}

impl Graph {
    fn build(files: &BTreeMap<PathBuf, String>) -> Graph {
        let mut module_files = BTreeMap::new();
        let mut scanned = BTreeMap::new();
        let mut test_modules: BTreeSet<ModPath> = BTreeSet::new();
        for (file, text) in files {
            let Some(module) = module_of(file) else {
                continue;
            };
            let scan = scan(&strip(text));
            for child in &scan.test_children {
                let mut path = module.clone();
                path.push(child.clone());
                test_modules.insert(path);
            }
            module_files.insert(module.clone(), file.clone());
            scanned.insert(file.clone(), (module, scan));
        }
        let is_test = |m: &ModPath| test_modules.iter().any(|t| m.starts_with(t));
        let mut edges: BTreeMap<PathBuf, BTreeMap<PathBuf, Reference>> = BTreeMap::new();
        for (file, (module, scan)) in &scanned {
            if is_test(module) {
                continue;
            }
            let out = edges.entry(file.clone()).or_default();
            for reference in &scan.references {
                let Some(target) = resolve(module, &reference.text, &module_files) else {
                    continue;
                };
                // Naming oneself or one's ancestors is not an edge (see the rules above).
                if module.starts_with(&target) || is_test(&target) {
                    continue;
                }
                let Some(target_file) = module_files.get(&target) else {
                    continue;
                };
                out.entry(target_file.clone())
                    .or_insert_with(|| reference.clone());
            }
        }
        Graph { edges }
    }

    /// Every broken rule, one message each, loops first.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // One loop per file of each knot, the shortest through it: a knot of several loops
        // names each of them, not only the first found.
        let mut loops: BTreeSet<Vec<PathBuf>> = BTreeSet::new();
        for component in self.components() {
            for start in &component {
                if let Some(mut cycle) = self.cycle_through(&component, start) {
                    let first = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap_or(0);
                    cycle.rotate_left(first);
                    loops.insert(cycle);
                }
            }
        }
        problems.extend(loops.iter().map(|cycle| self.describe_loop(cycle)));
        let in_top = |file: &Path| {
            let module = module_of(file).unwrap_or_default();
            module.first().is_some_and(|m| TOP.contains(&m.as_str()))
        };
        for (from, out) in &self.edges {
            if in_top(from) || module_of(from).is_some_and(|m| m.is_empty()) {
                continue;
            }
            for (to, reference) in out {
                let module = module_of(to).unwrap_or_default();
                if let Some(top) = module.first().filter(|m| TOP.contains(&m.as_str())) {
                    problems.push(format!(
                        "{}:{} names {}, but only {} may use {top}",
                        display(from),
                        reference.line,
                        reference.text,
                        TOP.join(" and ")
                    ));
                }
            }
        }
        problems
    }

    /// Strongly connected components with more than one file (Tarjan's algorithm).
    fn components(&self) -> Vec<Vec<PathBuf>> {
        struct State<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g PathBuf, usize>,
            low: BTreeMap<&'g PathBuf, usize>,
            stack: Vec<&'g PathBuf>,
            on_stack: BTreeSet<&'g PathBuf>,
            found: Vec<Vec<PathBuf>>,
        }
        fn visit<'g>(s: &mut State<'g>, v: &'g PathBuf) {
            let n = s.index.len();
            s.index.insert(v, n);
            s.low.insert(v, n);
            s.stack.push(v);
            s.on_stack.insert(v);
            if let Some(out) = s.graph.edges.get(v) {
                for w in out.keys() {
                    if !s.index.contains_key(w) {
                        visit(s, w);
                        let low = s.low[v].min(s.low[w]);
                        s.low.insert(v, low);
                    } else if s.on_stack.contains(w) {
                        let low = s.low[v].min(s.index[w]);
                        s.low.insert(v, low);
                    }
                }
            }
            if s.low[v] == s.index[v] {
                let mut component = Vec::new();
                while let Some(w) = s.stack.pop() {
                    s.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    s.found.push(component);
                }
            }
        }
        let mut state = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for v in self.edges.keys() {
            if !state.index.contains_key(v) {
                visit(&mut state, v);
            }
        }
        let mut found = state.found;
        found.sort();
        found
    }

    /// The shortest loop through `start`, staying inside its component.
    fn cycle_through(&self, component: &[PathBuf], start: &PathBuf) -> Option<Vec<PathBuf>> {
        let inside: BTreeSet<&PathBuf> = component.iter().collect();
        let mut came_from: BTreeMap<&PathBuf, &PathBuf> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for w in self.edges.get(v).into_iter().flat_map(|out| out.keys()) {
                if !inside.contains(w) {
                    continue;
                }
                if w == start {
                    let mut cycle = vec![v.clone()];
                    let mut at = v;
                    while at != start {
                        at = came_from[at];
                        cycle.push(at.clone());
                    }
                    cycle.reverse();
                    return Some(cycle);
                }
                if !came_from.contains_key(w) {
                    came_from.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        None
    }

    fn describe_loop(&self, cycle: &[PathBuf]) -> String {
        let mut names: Vec<String> = cycle.iter().map(|f| display(f)).collect();
        names.push(display(&cycle[0]));
        let mut text = format!("loop: {}", names.join(" → "));
        for (i, from) in cycle.iter().enumerate() {
            let to = &cycle[(i + 1) % cycle.len()];
            let reference = &self.edges[from][to];
            text.push_str(&format!(
                "\n  {}:{} names {}",
                display(from),
                reference.line,
                reference.text
            ));
        }
        text
    }
}

/// Resolves a reference made in `module` to the longest module prefix that has a file.
fn resolve(
    module: &ModPath,
    reference: &str,
    module_files: &BTreeMap<ModPath, PathBuf>,
) -> Option<ModPath> {
    let segments: Vec<&str> = reference
        .strip_prefix("mod ")
        .map(|child| vec!["self", child])
        .unwrap_or_else(|| reference.split("::").collect());
    let mut path: ModPath = Vec::new();
    let mut rest = segments.as_slice();
    match rest.first().copied()? {
        "crate" => rest = &rest[1..],
        "self" => {
            path = module.clone();
            rest = &rest[1..];
        }
        "super" => {
            path = module.clone();
            while rest.first() == Some(&"super") {
                path.pop()?;
                rest = &rest[1..];
            }
        }
        first => {
            // A bare name is a child module of this one, or something outside the crate.
            let mut child = module.clone();
            child.push(first.to_string());
            if !module_files.contains_key(&child) {
                return None;
            }
            path = module.clone();
        }
    }
    let mut best = path.clone();
    for segment in rest {
        path.push(segment.to_string());
        if module_files.contains_key(&path) {
            best = path.clone();
        } else {
            break;
        }
    }
    Some(best)
}

/// Source text with comments, strings and character literals blanked out, lines kept.
fn strip(text: &str) -> String {
    let bytes: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i] == '/' && bytes.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                    out.push_str("  ");
                } else if bytes[i] == '*' && bytes.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    out.push_str("  ");
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, bytes[i]);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !prev_is_ident(&bytes, i)
            && raw_string_start(&bytes, i + usize::from(c == 'b') + 1).is_some()
        {
            let start = i + usize::from(c == 'b') + 1;
            let hashes = raw_string_start(&bytes, start).unwrap_or(0);
            i = start + hashes + 1;
            out.push('"');
            while i < bytes.len() {
                if bytes[i] == '"' && (0..hashes).all(|k| bytes.get(i + 1 + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                blank(&mut out, bytes[i]);
                i += 1;
            }
            out.push('"');
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                if bytes[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < bytes.len() {
                    blank(&mut out, bytes[i]);
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), or a lifetime, which is kept.
            let close = if next == Some('\\') {
                (i + 2..bytes.len().min(i + 12)).find(|&k| bytes[k] == '\'')
            } else if bytes.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// At `chars[at]`, the `#…#"` of a raw string: how many `#`.
fn raw_string_start(chars: &[char], at: usize) -> Option<usize> {
    let hashes = chars[at.min(chars.len())..]
        .iter()
        .take_while(|&&c| c == '#')
        .count();
    (chars.get(at + hashes) == Some(&'"')).then_some(hashes)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Punct(char),
    PathSep,
}

fn tokenize(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push((
                Token::Ident(word.trim_start_matches("r#").to_string()),
                line,
            ));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push((Token::PathSep, line));
            i += 2;
        } else {
            tokens.push((Token::Punct(c), line));
            i += 1;
        }
    }
    tokens
}

/// What one file says about the crate's modules.
#[derive(Debug, Default)]
struct Scan {
    references: Vec<Reference>,
    /// Children declared with `#[cfg(test)] mod name;`.
    test_children: Vec<String>,
}

/// Finds a file's references, leaving out `#[cfg(test)]` items and `pub(in …)`.
fn scan(text: &str) -> Scan {
    let tokens = tokenize(text);
    let mut scan = Scan::default();
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens, i) {
            // Skip the attribute, then any further attributes, then the item.
            i += 7;
            while tokens.get(i).map(|t| &t.0) == Some(&Token::Punct('#')) {
                i = skip_group(&tokens, i + 1);
            }
            let start = i;
            i = skip_item(&tokens, i);
            if let Some(name) = declared_module(&tokens[start..i]) {
                scan.test_children.push(name);
            }
            continue;
        }
        match &tokens[i].0 {
            Token::Ident(word) if word == "pub" => {
                // `pub(crate)`, `pub(super)`, `pub(in crate::x)` are visibility, not use.
                if tokens.get(i + 1).map(|t| &t.0) == Some(&Token::Punct('(')) {
                    i = skip_group(&tokens, i + 1);
                } else {
                    i += 1;
                }
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), line)), Some((Token::Punct(';'), _))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    scan.references.push(Reference {
                        line: *line,
                        text: format!("mod {name}"),
                    });
                }
                i += 1;
            }
            Token::Ident(word) if word == "use" => {
                let line = tokens[i].1;
                let mut paths = Vec::new();
                i = use_tree(&tokens, i + 1, &[], &mut paths);
                scan.references
                    .extend(paths.into_iter().map(|text| Reference { line, text }));
            }
            Token::Ident(word)
                if (word == "crate" || word == "super" || word == "self")
                    && tokens.get(i + 1).map(|t| &t.0) == Some(&Token::PathSep)
                    && !(i > 0 && tokens[i - 1].0 == Token::PathSep) =>
            {
                let line = tokens[i].1;
                let mut segments = vec![word.clone()];
                i += 1;
                while tokens.get(i).map(|t| &t.0) == Some(&Token::PathSep) {
                    match tokens.get(i + 1) {
                        Some((Token::Ident(next), _)) => {
                            segments.push(next.clone());
                            i += 2;
                        }
                        _ => break,
                    }
                }
                scan.references.push(Reference {
                    line,
                    text: segments.join("::"),
                });
            }
            Token::Ident(word)
                if tokens.get(i + 1).map(|t| &t.0) == Some(&Token::PathSep)
                    && !(i > 0 && tokens[i - 1].0 == Token::PathSep)
                    && matches!(tokens.get(i + 2), Some((Token::Ident(_), _))) =>
            {
                // `child::item` in code: resolved only when `child` is a child module.
                if let Some((Token::Ident(next), _)) = tokens.get(i + 2) {
                    scan.references.push(Reference {
                        line: tokens[i].1,
                        text: format!("{word}::{next}"),
                    });
                }
                i += 3;
            }
            _ => i += 1,
        }
    }
    scan
}

fn is_cfg_test(tokens: &[(Token, usize)], i: usize) -> bool {
    let want = [
        Token::Punct('#'),
        Token::Punct('['),
        Token::Ident("cfg".into()),
        Token::Punct('('),
        Token::Ident("test".into()),
        Token::Punct(')'),
        Token::Punct(']'),
    ];
    tokens.len() >= i + want.len() && want.iter().enumerate().all(|(k, t)| &tokens[i + k].0 == t)
}

/// From an opening bracket at `i`, the index just past its match.
fn skip_group(tokens: &[(Token, usize)], i: usize) -> usize {
    let mut depth = 0i32;
    let mut k = i;
    while k < tokens.len() {
        match tokens[k].0 {
            Token::Punct('(' | '[' | '{') => depth += 1,
            Token::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth <= 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
        k += 1;
    }
    k
}

/// From the start of an item, the index just past it: its `;` or its closing brace.
fn skip_item(tokens: &[(Token, usize)], i: usize) -> usize {
    let mut k = i;
    while k < tokens.len() {
        match tokens[k].0 {
            Token::Punct(';') => return k + 1,
            Token::Punct('{') => return skip_group(tokens, k),
            Token::Punct('(' | '[') => k = skip_group(tokens, k),
            _ => k += 1,
        }
    }
    k
}

/// `mod name;` (with any visibility): the name.
fn declared_module(item: &[(Token, usize)]) -> Option<String> {
    let at = item
        .iter()
        .position(|t| t.0 == Token::Ident("mod".into()))?;
    match (item.get(at + 1), item.get(at + 2)) {
        (Some((Token::Ident(name), _)), Some((Token::Punct(';'), _))) => Some(name.clone()),
        _ => None,
    }
}

/// Expands a use tree from `i` into full paths; returns the index past the tree.
fn use_tree(
    tokens: &[(Token, usize)],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<String>,
) -> usize {
    let mut path: Vec<String> = prefix.to_vec();
    if tokens.get(i).map(|t| &t.0) == Some(&Token::PathSep) {
        i += 1;
    }
    loop {
        match tokens.get(i).map(|t| &t.0) {
            Some(Token::Ident(word)) => {
                path.push(word.clone());
                i += 1;
                if tokens.get(i).map(|t| &t.0) == Some(&Token::PathSep) {
                    i += 1;
                } else {
                    if tokens.get(i).map(|t| &t.0) == Some(&Token::Ident("as".into())) {
                        // The alias names nothing in the crate.
                        i += 2;
                    }
                    break;
                }
            }
            Some(Token::Punct('*')) => {
                i += 1;
                break;
            }
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    match tokens.get(i).map(|t| &t.0) {
                        Some(Token::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        Some(Token::Punct(',')) => i += 1,
                        None => break,
                        _ => i = use_tree(tokens, i, &path, out),
                    }
                }
                // The group's members were recorded; the prefix itself is not a reference.
                return i;
            }
            _ => break,
        }
    }
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    if !path.is_empty() {
        out.push(path.join("::"));
    }
    i
}

#[cfg(test)]
mod scanner {
    use super::*;

    #[test]
    fn use_trees_expand() {
        let scan = scan(&strip(
            "use crate::a::{b::{C, d as e}, self, f::*};\nuse super::g;\nfn x() { crate::h::i(); }\n",
        ));
        let texts: Vec<&str> = scan.references.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "crate::a::b::C",
                "crate::a::b::d",
                "crate::a",
                "crate::a::f",
                "super::g",
                "crate::h::i"
            ]
        );
    }

    #[test]
    fn strings_and_comments_name_nothing() {
        let text = strip(
            "let s = r#\"crate::a\"#; /* crate::b /* nested */ */ let c = '\"'; // crate::c\nfn f<'a>(x: &'a crate::d::D) {}",
        );
        let scan = scan(&text);
        let texts: Vec<&str> = scan.references.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["crate::d::D"]);
        assert_eq!(scan.references[0].line, 2);
    }
}
