//! `cargo xtask dag`: prints the internal crate graph and fails on an edge that the
//! design does not allow.
//!
//! The graph is declared once, in `deny.toml` (`bans.deny` entries with `wrappers`: the
//! crates allowed to depend on each internal crate). This task checks two things:
//!
//! 1. every internal edge of the workspace (normal, build and dev dependencies alike) is
//!    declared in `deny.toml`, and every workspace crate has a declaration;
//! 2. the declaration itself respects the layering of DESIGN.md: a crate may depend
//!    only on crates of a strictly lower layer (leaves, then the middle layer, then the
//!    gateway, then the binaries), so editing `deny.toml` cannot smuggle in an upward or
//!    sideways edge either.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where a crate sits in DESIGN.md's picture. Lower layers never depend on higher ones
/// or on their own layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Leaf,
    Middle,
    Transport,
    Binary,
}

/// The layer of each known internal crate. A new crate must be placed here (and in
/// `deny.toml`, and in ARCHITECTURE.md) before it can land: adding a crate is a design
/// decision.
fn layer_of(name: &str) -> Option<Layer> {
    Some(match name {
        "ironclaw-audit" | "ironclaw-safety" | "ironclaw-secrets" | "ironclaw-policy" => {
            Layer::Leaf
        }
        "ironclaw-proxy" | "ironclaw-wasm-host" | "ironclaw-sandbox" => Layer::Middle,
        "ironclaw-gateway" => Layer::Transport,
        "ironclawd" | "ironclaw" | "xtask" => Layer::Binary,
        _ => return None,
    })
}

/// One dependency edge between two workspace crates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Edge {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) kind: String,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {} ({})", self.from, self.to, self.kind)
    }
}

/// `crate -> crates allowed to depend on it`, as declared in `deny.toml`.
pub(crate) type Declared = BTreeMap<String, BTreeSet<String>>;

/// Reads the internal declarations (`bans.deny` entries with `wrappers`) of a deny.toml.
pub(crate) fn declared_from_deny_toml(text: &str) -> Result<Declared> {
    let doc: toml::Table = toml::from_str(text).context("deny.toml is not valid TOML")?;
    let entries = doc
        .get("bans")
        .and_then(|bans| bans.get("deny"))
        .and_then(|deny| deny.as_array())
        .context("deny.toml has no [bans] deny list")?;
    let mut declared = Declared::new();
    for entry in entries {
        let Some(name) = entry.get("crate").and_then(|c| c.as_str()) else {
            continue;
        };
        let Some(wrappers) = entry.get("wrappers").and_then(|w| w.as_array()) else {
            continue;
        };
        let mut allowed = BTreeSet::new();
        for wrapper in wrappers {
            let wrapper = wrapper
                .as_str()
                .with_context(|| format!("deny.toml: a wrapper of {name} is not a string"))?;
            allowed.insert(wrapper.to_owned());
        }
        declared.insert(name.to_owned(), allowed);
    }
    Ok(declared)
}

/// Checks the workspace's crates and edges against the declaration; returns every
/// problem found, not just the first.
pub(crate) fn check(crates: &BTreeSet<String>, edges: &[Edge], declared: &Declared) -> Vec<String> {
    let mut problems = Vec::new();
    for name in crates {
        match layer_of(name) {
            None => problems.push(format!(
                "crate {name} has no layer in xtask/src/dag.rs: place it in DESIGN.md's DAG first"
            )),
            Some(Layer::Binary) => {}
            Some(_) if !declared.contains_key(name) => problems.push(format!(
                "crate {name} has no bans.deny entry with wrappers in deny.toml"
            )),
            Some(_) => {}
        }
    }
    for (target, dependents) in declared {
        let Some(target_layer) = layer_of(target) else {
            problems.push(format!(
                "deny.toml declares unknown internal crate {target}"
            ));
            continue;
        };
        for dependent in dependents {
            match layer_of(dependent) {
                Some(layer) if layer > target_layer => {}
                Some(_) => problems.push(format!(
                    "deny.toml lets {dependent} depend on {target}, which DESIGN.md forbids \
                     (same or higher layer)"
                )),
                None => problems.push(format!(
                    "deny.toml lets unknown crate {dependent} depend on {target}"
                )),
            }
        }
    }
    for edge in edges {
        let allowed = declared
            .get(&edge.to)
            .is_some_and(|dependents| dependents.contains(&edge.from));
        if !allowed {
            problems.push(format!("forbidden edge {edge}: not declared in deny.toml"));
        }
    }
    problems
}

/// The workspace crates and the internal edges between them, from `cargo metadata`.
fn workspace_graph(root: &Path) -> Result<(BTreeSet<String>, Vec<Edge>)> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed bad JSON")?;
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let crates: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut edges = Vec::new();
    for package in packages {
        let from = package["name"].as_str().unwrap_or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let to = dep["name"].as_str().unwrap_or_default();
            if crates.contains(to) {
                let kind = dep["kind"].as_str().unwrap_or("normal").to_owned();
                edges.push(Edge {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    kind,
                });
            }
        }
    }
    edges.sort();
    edges.dedup();
    Ok((crates, edges))
}

/// Runs the task: prints the graph, fails on any problem.
pub(crate) fn run(root: &Path) -> Result<()> {
    let deny_path = root.join("deny.toml");
    let text = std::fs::read_to_string(&deny_path)
        .with_context(|| format!("cannot read {}", deny_path.display()))?;
    let declared = declared_from_deny_toml(&text)?;
    let (crates, edges) = workspace_graph(root)?;
    println!("internal crate graph ({} crates):", crates.len());
    for name in &crates {
        let deps: Vec<String> = edges
            .iter()
            .filter(|e| &e.from == name)
            .map(|e| {
                if e.kind == "normal" {
                    e.to.clone()
                } else {
                    format!("{} [{}]", e.to, e.kind)
                }
            })
            .collect();
        println!(
            "  {name} -> {}",
            if deps.is_empty() {
                "(none)".to_owned()
            } else {
                deps.join(", ")
            }
        );
    }
    let problems = check(&crates, &edges, &declared);
    if problems.is_empty() {
        println!("dag: ok");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("dag: {problem}");
    }
    bail!(
        "{} problem(s) in the internal dependency graph",
        problems.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_declared() -> Declared {
        let text = include_str!("../../deny.toml");
        declared_from_deny_toml(text).unwrap()
    }

    fn edge(from: &str, to: &str, kind: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            kind: kind.into(),
        }
    }

    /// Every crate DESIGN.md names, with every edge its layering allows.
    fn design_declared() -> Declared {
        let names = [
            "ironclaw-audit",
            "ironclaw-safety",
            "ironclaw-secrets",
            "ironclaw-policy",
            "ironclaw-proxy",
            "ironclaw-wasm-host",
            "ironclaw-sandbox",
            "ironclaw-gateway",
            "ironclawd",
            "ironclaw",
        ];
        let mut declared = Declared::new();
        for target in names {
            let dependents = names
                .iter()
                .filter(|d| layer_of(d) > layer_of(target))
                .map(|d| d.to_string())
                .collect();
            declared.insert(target.to_string(), dependents);
        }
        declared
    }

    fn check_edges(edges: &[Edge]) -> Vec<String> {
        let mut crates: BTreeSet<String> = BTreeSet::new();
        for e in edges {
            crates.insert(e.from.clone());
            crates.insert(e.to.clone());
        }
        check(&crates, edges, &design_declared())
    }

    #[test]
    fn the_design_itself_passes() {
        let declared = design_declared();
        let crates: BTreeSet<String> = declared.keys().cloned().collect();
        assert_eq!(check(&crates, &[], &declared), Vec::<String>::new());
    }

    #[test]
    fn the_repository_deny_toml_respects_the_layers() {
        let declared = repo_declared();
        let crates: BTreeSet<String> = declared.keys().cloned().collect();
        assert_eq!(check(&crates, &[], &declared), Vec::<String>::new());
        assert!(!declared.is_empty());
    }

    #[test]
    fn allowed_edges_pass() {
        for (from, to) in [
            ("ironclaw", "ironclaw-audit"),
            ("ironclawd", "ironclaw-policy"),
            ("ironclaw-proxy", "ironclaw-safety"),
            ("ironclaw-wasm-host", "ironclaw-secrets"),
            ("ironclaw-gateway", "ironclaw-proxy"),
        ] {
            assert_eq!(
                check_edges(&[edge(from, to, "normal")]),
                Vec::<String>::new(),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn forbidden_edges_fail_whatever_their_kind() {
        for (from, to) in [
            ("ironclaw-safety", "ironclaw-audit"),
            ("ironclaw-policy", "ironclaw-secrets"),
            ("ironclaw-proxy", "ironclaw-wasm-host"),
            ("ironclaw-audit", "ironclaw-gateway"),
            ("ironclaw-gateway", "ironclawd"),
            ("ironclaw", "ironclawd"),
        ] {
            for kind in ["normal", "dev", "build"] {
                let problems = check_edges(&[edge(from, to, kind)]);
                assert!(
                    problems.iter().any(|p| p.contains("forbidden edge")),
                    "{from} -> {to} ({kind}) passed: {problems:?}"
                );
            }
        }
    }

    #[test]
    fn a_declaration_that_breaks_the_layers_fails() {
        let mut declared = design_declared();
        declared
            .get_mut("ironclaw-audit")
            .unwrap()
            .insert("ironclaw-safety".into());
        let crates: BTreeSet<String> = declared.keys().cloned().collect();
        let problems = check(&crates, &[], &declared);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("ironclaw-safety depend on ironclaw-audit")),
            "{problems:?}"
        );
    }

    #[test]
    fn an_undeclared_crate_fails() {
        let mut crates: BTreeSet<String> = design_declared().keys().cloned().collect();
        crates.insert("ironclaw-newthing".into());
        let problems = check(&crates, &[], &design_declared());
        assert!(
            problems.iter().any(|p| p.contains("ironclaw-newthing")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_workspace_graph_is_clean() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (crates, edges) = workspace_graph(&root).unwrap();
        assert!(crates.contains("ironclaw"));
        assert_eq!(
            check(&crates, &edges, &repo_declared()),
            Vec::<String>::new()
        );
    }

    /// Builds a two-crate workspace with this repository's deny.toml, where
    /// `ironclaw-safety` depends on `ironclaw-audit` (a leaf on a leaf), and runs
    /// cargo-deny on it: the edge must be banned.
    fn run_deny_on_edge(kind_section: &str) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("deny.toml"), include_str!("../../deny.toml")).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nresolver = \"3\"\nmembers = [\"audit\", \"safety\"]\n",
        )
        .unwrap();
        for (dir_name, name, deps) in [
            ("audit", "ironclaw-audit", String::new()),
            (
                "safety",
                "ironclaw-safety",
                format!(
                    "{kind_section}\nironclaw-audit = {{ path = \"../audit\", version = \"0.1.0\" }}\n"
                ),
            ),
        ] {
            std::fs::create_dir_all(root.join(dir_name).join("src")).unwrap();
            std::fs::write(root.join(dir_name).join("src/lib.rs"), "").unwrap();
            std::fs::write(
                root.join(dir_name).join("Cargo.toml"),
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                     license = \"Apache-2.0\"\npublish = false\n\n{deps}"
                ),
            )
            .unwrap();
        }
        Command::new(env!("CARGO"))
            .args(["deny", "--offline", "check", "bans"])
            .current_dir(root)
            .output()
            .expect("cargo-deny must be installed (cargo xtask ci installs it)")
    }

    #[test]
    fn cargo_deny_rejects_a_forbidden_edge() {
        for section in [
            "[dependencies]",
            "[dev-dependencies]",
            "[build-dependencies]",
        ] {
            let output = run_deny_on_edge(section);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                !output.status.success(),
                "{section}: cargo deny passed:\n{stderr}"
            );
            assert!(
                stderr.contains("ironclaw-audit") && stderr.contains("explicitly banned"),
                "{section}: {stderr}"
            );
        }
    }
}
