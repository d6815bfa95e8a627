//! `schema.graphql` is the exported SDL, always in step with the code, and
//! the schema runs without async-graphql extensions.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let current = gateway::graphql::sdl();
    assert!(
        committed == current,
        "schema.graphql is out of date: run `cargo run -- export-schema` and commit it"
    );
}

/// No async-graphql extension is registered: with any, async-graphql
/// resolves every field of every operation through the extension chain
/// instead of calling the resolver directly (see `graphql::build_schema`).
/// async-graphql does not expose a schema's extensions, so this looks for
/// them in the source: a registration, or an extension implemented.
#[test]
fn no_async_graphql_extension_is_registered() {
    fn scan(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                scan(&path, found);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for (n, line) in text.lines().enumerate() {
                // `.extension(x)` registers one; `Path::extension()` does not.
                let registers = line
                    .match_indices(".extension(")
                    .any(|(at, m)| !line[at + m.len()..].starts_with(')'));
                if registers || line.contains("ExtensionFactory") {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    let mut found = Vec::new();
    scan(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut found,
    );
    assert!(found.is_empty(), "async-graphql extensions: {found:#?}");
}
