//! Generates the i18n key table from `locales/*.json`.
//!
//! Each locale file is a flat JSON object of `"dotted.key": "text"`. The union of all keys
//! becomes the `Key` enum, so a key used in code but defined nowhere is a compile error. A key
//! missing from one locale still builds (it falls back to English, then to the key itself) but
//! is listed in `MISSING`, which a unit test requires to be empty.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

const LOCALES: [&str; 2] = ["en", "ko"];

fn main() {
    let dir = Path::new("locales");
    println!("cargo:rerun-if-changed=locales");
    let mut tables: Vec<BTreeMap<String, String>> = Vec::new();
    for locale in LOCALES {
        let path = dir.join(format!("{locale}.json"));
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let table: BTreeMap<String, String> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not a flat JSON object of strings: {e}", path.display()));
        tables.push(table);
    }
    let mut keys: Vec<&String> = tables.iter().flat_map(|t| t.keys()).collect();
    keys.sort();
    keys.dedup();

    let mut out = String::new();
    out.push_str("/// Every UI text's key, generated from `locales/*.json` by `build.rs`.\n");
    out.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub enum Key {\n");
    for k in &keys {
        let _ = writeln!(out, "    {},", variant(k));
    }
    out.push_str("}\n\nimpl Key {\n    pub const ALL: &'static [Key] = &[\n");
    for k in &keys {
        let _ = writeln!(out, "        Key::{},", variant(k));
    }
    out.push_str("    ];\n\n    /// The dotted key as written in the locale files.\n");
    out.push_str("    pub const fn id(self) -> &'static str {\n        match self {\n");
    for k in &keys {
        let _ = writeln!(out, "            Key::{} => {:?},", variant(k), k);
    }
    out.push_str("        }\n    }\n}\n\n");

    let mut missing = Vec::new();
    for (locale, table) in LOCALES.iter().zip(&tables) {
        let _ = writeln!(out, "pub(crate) const fn text_{locale}(key: Key) -> &'static str {{\n    match key {{");
        for k in &keys {
            let text = match table.get(*k) {
                Some(t) => t.clone(),
                None => {
                    missing.push(format!("({locale:?}, {k:?})"));
                    tables[0].get(*k).cloned().unwrap_or_else(|| (*k).clone())
                }
            };
            let _ = writeln!(out, "        Key::{} => {:?},", variant(k), text);
        }
        out.push_str("    }\n}\n\n");
    }
    let _ = writeln!(
        out,
        "/// (locale, key) pairs with no text in that locale. Must stay empty.\npub const MISSING: &[(&str, &str)] = &[{}];",
        missing.join(", ")
    );

    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("i18n_keys.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

/// `nav.security_groups` → `NavSecurityGroups`.
fn variant(key: &str) -> String {
    key.split(['.', '_', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}
