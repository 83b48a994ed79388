//! Compiles the shipped rule pack into the binary: every `rules/*.yaml`
//! and every `rules/tables/*.txt`, in name order, as `include_str!`s in
//! `$OUT_DIR/builtin_rules.rs` (read by `src/rules/mod.rs`). A new rule file
//! or table joins the built-in pack by being there: no list to edit.

use std::fmt::Write as _;
use std::path::Path;

fn files(dir: &Path, ext: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let abs = std::fs::canonicalize(&p).unwrap();
            (name, abs.to_string_lossy().into_owned())
        })
        .collect();
    out.sort();
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=rules/tables");
    let mut code = String::new();
    code.push_str("/// The shipped rule files (`rules/*.yaml`), in name order.\n");
    code.push_str("pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[\n");
    for (name, abs) in files(&root, "yaml") {
        println!("cargo:rerun-if-changed={abs}");
        writeln!(code, "    ({name:?}, include_str!({abs:?})),").unwrap();
    }
    code.push_str("];\n");
    code.push_str("/// The shipped tables (`rules/tables/*.txt`), by name without `.txt`.\n");
    code.push_str("pub const BUILTIN_TABLE_FILES: &[(&str, &str)] = &[\n");
    let tables = root.join("tables");
    if tables.is_dir() {
        for (name, abs) in files(&tables, "txt") {
            println!("cargo:rerun-if-changed={abs}");
            let stem = name.trim_end_matches(".txt");
            writeln!(code, "    ({stem:?}, include_str!({abs:?})),").unwrap();
        }
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_rules.rs");
    std::fs::write(out, code).unwrap();
}
