//! Loading a guest: a WASIp2 component, or a wasip1 core module converted to one.
//!
//! Every guest goes through one path: whatever the file holds, the result is a compiled
//! [`Component`] that exports `wasi:cli/run`. Each check here turns a bad file into a
//! message that names the file and says what is wrong with it, before anything runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The interface a command component exports; the semver-compatible `0.2.x` versions all match.
pub const RUN_INTERFACE: &str = "wasi:cli/run";
/// The module a wasip1 core module imports its WASI functions from.
const WASIP1_MODULE: &str = WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME;

/// What the guest file held before loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestFormat {
    /// A WebAssembly component, run as it is.
    Component,
    /// A wasip1 core module, converted to a component with the preview1 command adapter.
    CoreModule,
}

/// A compiled guest, ready to instantiate in any world.
pub struct Guest {
    pub path: PathBuf,
    pub format: GuestFormat,
    pub component: Component,
    /// The full versioned name of the `wasi:cli/run` export, e.g. `wasi:cli/run@0.2.6`.
    pub run_export: String,
}

impl Guest {
    /// Reads, converts if needed, compiles and checks the guest at `path`.
    pub fn load(engine: &Engine, path: &Path) -> Result<Guest> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        Self::from_bytes(engine, path, &bytes)
    }

    /// Like [`Guest::load`], for bytes already in memory; `path` is only used in messages.
    pub fn from_bytes(engine: &Engine, path: &Path, bytes: &[u8]) -> Result<Guest> {
        let (format, component) = compile(engine, path, bytes)?;
        let run_export = find_run_export(engine, &component)
            .with_context(|| format!("`{}` cannot be run as a command", path.display()))?;
        tracing::debug!(path = %path.display(), ?format, %run_export, "guest loaded");
        Ok(Guest {
            path: path.to_owned(),
            format,
            component,
            run_export,
        })
    }

    /// The fully qualified names of what the guest imports.
    pub fn imports(&self, engine: &Engine) -> Vec<String> {
        component_imports(engine, &self.component)
    }
}

/// Checks, converts if needed, and compiles a guest file's bytes.
pub fn compile(engine: &Engine, path: &Path, bytes: &[u8]) -> Result<(GuestFormat, Component)> {
    let shown = path.display();
    if !bytes.starts_with(b"\0asm") {
        bail!(
            "`{shown}` is not a WebAssembly file: it does not start with the `\\0asm` magic bytes"
        );
    }
    let format = if wasmparser::Parser::is_component(bytes) {
        GuestFormat::Component
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        GuestFormat::CoreModule
    } else {
        bail!("`{shown}` has the WebAssembly magic bytes but an unknown version or layer");
    };
    // Keyed on the file's own bytes: a cached core module skips its conversion too.
    let component = crate::compile_cache::load_or_compile(engine, bytes, || {
        let component_bytes = match format {
            GuestFormat::Component => std::borrow::Cow::Borrowed(bytes),
            GuestFormat::CoreModule => std::borrow::Cow::Owned(
                core_module_to_component(bytes)
                    .with_context(|| format!("cannot run core module `{shown}`"))?,
            ),
        };
        Component::from_binary(engine, &component_bytes).map_err(|e| {
            anyhow::anyhow!(
                "`{shown}` is not a valid WebAssembly component (truncated or corrupt?): {e:#}"
            )
        })
    })?;
    Ok((format, component))
}

/// The fully qualified names of a component's imports.
pub fn component_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The fully qualified names of a component's exports.
pub fn component_exports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// A core module's imports (as `module::name`) and exports, from one pass over it.
fn scan_core_module(bytes: &[u8]) -> Result<(Vec<String>, Vec<String>)> {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.context("it is not a valid core module (truncated or corrupt?)")? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("its import section is corrupt")?;
                    imports.push(format!("{}::{}", import.module, import.name));
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    exports.push(
                        export
                            .context("its export section is corrupt")?
                            .name
                            .to_owned(),
                    );
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

/// A core module's imports as `module::name`.
pub fn core_imports(bytes: &[u8]) -> Result<Vec<String>> {
    Ok(scan_core_module(bytes)?.0)
}

/// Finds the versioned `wasi:cli/run` export, or says what the component exports instead.
fn find_run_export(engine: &Engine, component: &Component) -> Result<String> {
    let ty = component.component_type();
    let mut exports = Vec::new();
    for (name, item) in ty.exports(engine) {
        if unversioned(name) == RUN_INTERFACE
            && matches!(item.ty, ComponentItem::ComponentInstance(_))
        {
            return Ok(name.to_owned());
        }
        exports.push(name.to_owned());
    }
    let found = if exports.is_empty() {
        "it exports nothing".to_owned()
    } else {
        format!("it exports only: {}", exports.join(", "))
    };
    bail!(
        "a command component must export `{RUN_INTERFACE}`, and {found}; \
         plugins that export other functions are run with other commands"
    )
}

/// `wasi:cli/run@0.2.6` -> `wasi:cli/run`.
pub fn unversioned(name: &str) -> &str {
    name.split_once('@').map_or(name, |(base, _)| base)
}

/// Converts a wasip1 command module into a component, so it runs through the same linker.
fn core_module_to_component(bytes: &[u8]) -> Result<Vec<u8>> {
    check_wasip1_command(bytes)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(bytes)?
        .adapter(WASIP1_MODULE, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER)?
        .encode()
        .map_err(|e| anyhow::anyhow!("converting it to a component failed: {e:#}"))
}

/// A WASI command imports only from `wasi_snapshot_preview1` and exports `_start`.
fn check_wasip1_command(bytes: &[u8]) -> Result<()> {
    let (imports, exports) = scan_core_module(bytes)?;
    let has_start = exports.iter().any(|name| name == "_start");
    let wasip1 = format!("{WASIP1_MODULE}::");
    let foreign_imports: Vec<String> = imports
        .into_iter()
        .filter(|import| !import.starts_with(&wasip1))
        .collect();
    if !has_start {
        bail!(
            "it is a core module without a `_start` export, so it is not a WASI command \
             (a reactor or library module?)"
        );
    }
    if !foreign_imports.is_empty() {
        bail!(
            "it imports functions that no WASI world provides: {}",
            foreign_imports.join(", ")
        );
    }
    Ok(())
}
