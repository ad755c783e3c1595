//! Linking a job's import modules into its entry component, the way `wasm-tools compose`
//! does (with the wasm-compose crate, so its configuration files work here as they are).
//!
//! Without a wiring configuration every import module is a *definition*: an instance it
//! exports satisfies any import of the same name, and each module is instantiated once, so
//! every importer of a name shares its instance. With one (wasm-compose's `instantiations`,
//! and the rest of its keys) import modules are its *dependencies*, by name: an instantiation
//! argument maps an import to another instance or to one of its exports. Whatever no module
//! satisfies stays an import of the composed component, for the world to provide.

use std::path::Path;

use anyhow::{Context, Result, bail};
use wasm_compose::composer::ComponentComposer;
use wasm_compose::config::{Config, Dependency};

/// An import module in component form.
#[derive(Debug, Clone)]
pub struct ImportModule<'a> {
    /// The name a wiring configuration calls it by.
    pub name: String,
    pub bytes: std::borrow::Cow<'a, [u8]>,
}

/// Reads a wasm-compose configuration file: YAML (as `wasm-tools compose --config` takes) or
/// TOML with the same keys. Relative paths in it are relative to its folder.
pub fn read_config(path: &Path) -> Result<Config> {
    let shown = path.display();
    let mut config = if path.extension().is_some_and(|e| e == "toml") {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the compose configuration `{shown}`"))?;
        crate::world::parse_toml(&text, &shown.to_string())?
    } else {
        Config::from_file(path).map_err(|e| {
            anyhow::anyhow!("{e:#}").context(format!("`{shown}` is not a compose configuration"))
        })?
    };
    config.dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    Ok(config)
}

/// Composes `root` (component bytes) with `imports`, wired by `wiring` when given; returns
/// the composed component's bytes.
pub fn compose(root: &[u8], imports: &[ImportModule], wiring: Option<&Config>) -> Result<Vec<u8>> {
    let mut config = wiring.cloned().unwrap_or_default();
    // wasm-compose reads files, and names a definition after its file (names must be
    // kebab-case): every module is written to a folder of its own, under its own name.
    let folder = tempfile::tempdir().context("cannot create a temporary directory")?;
    let root_path = folder.path().join("root.wasm");
    std::fs::write(&root_path, root).context("cannot write the entry component")?;
    let mut named = Vec::new();
    for (index, import) in imports.iter().enumerate() {
        let path = folder
            .path()
            .join(format!("{}-{index}.wasm", kebab(&import.name)));
        std::fs::write(&path, &import.bytes)
            .with_context(|| format!("cannot write the import module `{}`", import.name))?;
        named.push((import.name.clone(), path));
    }
    // Without a configuration file of its own, nothing is looked for beyond the modules
    // given (wasm-compose would search its folder for a file named after each import).
    if config.dir.as_os_str().is_empty() {
        config.dir = folder.path().to_owned();
    }
    for (name, path) in named {
        if wiring.is_some() {
            if config.dependencies.contains_key(&name) {
                bail!(
                    "the import module `{name}` is also a dependency in the compose configuration; name it once"
                );
            }
            config.dependencies.insert(name, Dependency { path });
        } else {
            config.definitions.push(path);
        }
    }
    let started = std::time::Instant::now();
    let composed = ComponentComposer::new(&root_path, &config)
        .compose()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| {
            let names: Vec<_> = imports.iter().map(|i| i.name.as_str()).collect();
            format!(
                "cannot link the import modules ({}) into the entry module",
                names.join(", ")
            )
        })?;
    // wasm-compose leaves validation to its caller.
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&composed)
        .map_err(|e| anyhow::anyhow!("the composed component is not valid: {e}"))?;
    tracing::debug!(
        elapsed = ?started.elapsed(),
        bytes = composed.len(),
        "import modules composed"
    );
    Ok(composed)
}

/// Composes local files: `root` with `--import [NAME=]PATH` modules (core modules converted).
pub fn compose_files(root: &Path, specs: &[String], config: Option<&Path>) -> Result<Vec<u8>> {
    use crate::guest::{CoreRole, command_component, component_bytes};
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
    };
    let root_bytes = read(root)?;
    let (root_component, _) = command_component(root, &root_bytes, None)?;
    let mut imports = Vec::new();
    for spec in specs {
        let (name, path) = match spec.split_once('=') {
            Some((name, path)) => (name.to_owned(), std::path::PathBuf::from(path)),
            None => {
                let path = std::path::PathBuf::from(spec);
                let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                (kebab(&stem), path)
            }
        };
        let bytes = component_bytes(&path, &read(&path)?, CoreRole::Library)?.into_owned();
        imports.push(ImportModule {
            name,
            bytes: bytes.into(),
        });
    }
    let config = config.map(read_config).transpose()?;
    compose(&root_component, &imports, config.as_ref())
}

/// `name` as a kebab-case word list (`job_greeter` -> `job-greeter`), starting with a letter.
pub fn kebab(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    match words.first() {
        Some(first) if first.starts_with(|c: char| c.is_ascii_alphabetic()) => words.join("-"),
        _ => format!("module-{}", words.join("-"))
            .trim_end_matches('-')
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kebab_names() {
        assert_eq!(super::kebab("job_greeter"), "job-greeter");
        assert_eq!(super::kebab("Greet.V2"), "greet-v2");
        assert_eq!(super::kebab("0eb0"), "module-0eb0");
        assert_eq!(super::kebab(""), "module");
    }
}
