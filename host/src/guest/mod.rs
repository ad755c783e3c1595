//! Loading a guest: a WASIp2 or WASIp3 component, or a wasip1 core module converted to one.
//!
//! Every guest goes through one path: whatever the file holds, the result is a compiled
//! [`Component`] that exports `wasi:cli/run`. Each check here turns a bad file into a
//! message that names the file and says what is wrong with it, before anything runs.

pub mod compile_cache;
pub mod compose;
mod p1_exit;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::run::AsyncAbi;

/// The interface a command component exports: `0.2.x` (a sync `run`) or `0.3.x` (an async
/// `run`, which the engine calls the same way).
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

/// What a run calls in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPoint {
    /// `run` of the `wasi:cli/run` export, by its full versioned name (`wasi:cli/run@0.2.6`).
    CliRun(String),
    /// An exported function that takes and returns nothing: top level, or in an exported
    /// interface (`instance`).
    Function {
        instance: Option<String>,
        name: String,
    },
}

impl std::fmt::Display for EntryPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryPoint::CliRun(interface) => write!(f, "{interface}#run"),
            EntryPoint::Function {
                instance: Some(instance),
                name,
            } => write!(f, "{instance}#{name}"),
            EntryPoint::Function {
                instance: None,
                name,
            } => write!(f, "{name}"),
        }
    }
}

/// A compiled guest, ready to instantiate in any world.
pub struct Guest {
    pub path: PathBuf,
    pub format: GuestFormat,
    /// The guest as a component (a core module converted with the preview1 adapter): what
    /// every world but `cli` runs, and what `host inspect` and the import checks read.
    pub component: Component,
    /// A wasip1 command importing only `wasi_snapshot_preview1`: its bytes (with the entry
    /// point made its `_start`), which the cli and cloud worlds run with wasmtime's own p1 ([`Self::p1_module`]).
    pub p1_bytes: Option<Vec<u8>>,
    /// What a run calls.
    pub entry: EntryPoint,
    /// Whether the compiled code came from the cache (no compiling was needed).
    pub from_cache: bool,
}

impl Guest {
    /// Reads, converts if needed, compiles and checks the command at `path`, with the engine
    /// it runs on ([`Guest::for_run`]).
    pub fn load_command(
        path: &Path,
        engine_for: impl Fn(AsyncAbi) -> Result<Engine>,
    ) -> Result<(Engine, Guest)> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        Self::for_run(path, &bytes, None, engine_for)
    }

    /// [`Guest::from_bytes`] for a run, with the engine it runs on: `engine_for`'s engine
    /// without the component model's async ABI unless the guest uses it (WASI 0.3), then the
    /// one with it ([`AsyncAbi`], [`uses_async_abi`]).
    pub fn for_run(
        path: &Path,
        bytes: &[u8],
        entry: Option<&str>,
        engine_for: impl Fn(AsyncAbi) -> Result<Engine>,
    ) -> Result<(Engine, Guest)> {
        let load = |async_abi| {
            let engine = engine_for(async_abi)?;
            let guest = Self::from_bytes(&engine, path, bytes, entry)?;
            tracing::debug!(path = %path.display(), ?async_abi, "command engine chosen");
            Ok((engine, guest))
        };
        if uses_async_abi(bytes) {
            return load(AsyncAbi::On);
        }
        // What cannot be loaded without the async ABI is loaded with it: a guest misjudged
        // still runs, and a broken one is refused in the same words as by any other command.
        load(AsyncAbi::Off).or_else(|_| load(AsyncAbi::On))
    }

    /// Converts if needed, compiles and checks a guest's bytes; `path` is only used in messages.
    /// `entry` names the function a run calls: `None`, `wasi:cli/run` or `_start` for the
    /// command's own, else an export taking and returning nothing (`NAME`, or
    /// `INTERFACE#NAME` in a component). A core module's entry becomes its `_start`.
    pub fn from_bytes(
        engine: &Engine,
        path: &Path,
        bytes: &[u8],
        entry: Option<&str>,
    ) -> Result<Guest> {
        let shown = path.display();
        let (bytes, entry) = with_entry(path, bytes, entry)?;
        let (format, component, from_cache) = compile(engine, path, &bytes)?;
        let entry = match entry {
            Some(name) => find_function_export(engine, &component, name)
                .with_context(|| format!("`{shown}` has no entry point `{name}`"))?,
            None => EntryPoint::CliRun(
                find_run_export(engine, &component)
                    .with_context(|| format!("`{shown}` cannot be run as a command"))?,
            ),
        };
        tracing::debug!(path = %shown, ?format, %entry, "guest loaded");
        let p1_bytes = (format == GuestFormat::CoreModule && only_wasip1_imports(&bytes)?)
            .then(|| bytes.into_owned());
        Ok(Guest {
            path: path.to_owned(),
            format,
            component,
            p1_bytes,
            entry,
            from_cache,
        })
    }

    /// The compiled core module of a plain wasip1 command, for wasmtime's own p1 (from the
    /// compile cache, where it never collides with the component made of the same bytes);
    /// `None` for a component or a core module importing more than wasip1.
    pub fn p1_module(&self, engine: &Engine) -> Result<Option<wasmtime::Module>> {
        let Some(bytes) = &self.p1_bytes else {
            return Ok(None);
        };
        let (module, _) = compile_cache::load_or_compile(engine, bytes, || {
            wasmtime::Module::from_binary(engine, bytes).map_err(|e| {
                anyhow::anyhow!(
                    "`{}` is not a valid WebAssembly module: {e:#}",
                    self.path.display()
                )
            })
        })?;
        Ok(Some(module))
    }

    /// The fully qualified names of what the guest imports.
    pub fn imports(&self, engine: &Engine) -> Vec<String> {
        component_imports(engine, &self.component)
    }
}

/// A guest's bytes with `entry` applied where it can be: a core module's entry export becomes
/// its `_start`. Returns the entry point still to find in the component (`None`: the
/// command's own, `wasi:cli/run`).
fn with_entry<'a>(
    path: &Path,
    bytes: &'a [u8],
    entry: Option<&'a str>,
) -> Result<(std::borrow::Cow<'a, [u8]>, Option<&'a str>)> {
    let custom = entry.filter(|e| !matches!(unversioned(e), RUN_INTERFACE | "_start"));
    match custom {
        Some(name) if format_of(path, bytes)? == GuestFormat::CoreModule => {
            let renamed = export_as_start(bytes, name)
                .with_context(|| format!("`{}` cannot start at `{name}`", path.display()))?;
            Ok((std::borrow::Cow::Owned(renamed), None))
        }
        _ => Ok((std::borrow::Cow::Borrowed(bytes), custom)),
    }
}

/// The component form of a command guest, for composing with others: a component as it is,
/// a core module converted (with its `entry` made its `_start`). Returns the entry point
/// still to be found in the component (`None`: `wasi:cli/run`).
pub fn command_component<'a>(
    path: &Path,
    bytes: &'a [u8],
    entry: Option<&'a str>,
) -> Result<(std::borrow::Cow<'a, [u8]>, Option<&'a str>)> {
    let (bytes, entry) = with_entry(path, bytes, entry)?;
    let component = match bytes {
        std::borrow::Cow::Borrowed(bytes) => component_bytes(path, bytes, CoreRole::Command)?,
        std::borrow::Cow::Owned(bytes) => {
            std::borrow::Cow::Owned(component_bytes(path, &bytes, CoreRole::Command)?.into_owned())
        }
    };
    Ok((component, entry))
}

/// What a wasm file holds, or a one-line reason it is not a guest.
pub fn format_of(path: &Path, bytes: &[u8]) -> Result<GuestFormat> {
    let shown = path.display();
    if !bytes.starts_with(b"\0asm") {
        bail!(
            "`{shown}` is not a WebAssembly file: it does not start with the `\\0asm` magic bytes"
        );
    }
    if wasmparser::Parser::is_component(bytes) {
        Ok(GuestFormat::Component)
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        Ok(GuestFormat::CoreModule)
    } else {
        bail!("`{shown}` has the WebAssembly magic bytes but an unknown version or layer");
    }
}

/// How a core module is made into a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreRole {
    /// A WASI command (`_start`), run through `wasi:cli/run`.
    Command,
    /// A library whose exports other components import (an import module of a job): it needs
    /// WIT metadata (as wit-bindgen embeds) saying what its exports are.
    Library,
}

/// The component form of a guest file's bytes: a component as it is, a core module converted.
pub fn component_bytes<'a>(
    path: &Path,
    bytes: &'a [u8],
    role: CoreRole,
) -> Result<std::borrow::Cow<'a, [u8]>> {
    Ok(match format_of(path, bytes)? {
        GuestFormat::Component => std::borrow::Cow::Borrowed(bytes),
        GuestFormat::CoreModule => std::borrow::Cow::Owned(
            core_module_to_component(bytes, role)
                .with_context(|| format!("cannot use core module `{}`", path.display()))?,
        ),
    })
}

/// Checks, converts if needed, and compiles a guest file's bytes; says whether the compiled
/// code came from the cache.
pub fn compile(
    engine: &Engine,
    path: &Path,
    bytes: &[u8],
) -> Result<(GuestFormat, Component, bool)> {
    let format = format_of(path, bytes)?;
    // Keyed on the file's own bytes: a cached core module skips its conversion too.
    let (component, from_cache) = compile_cache::load_or_compile(engine, bytes, || {
        let component_bytes = component_bytes(path, bytes, CoreRole::Command)
            .map_err(|e| missing_features(engine, path, bytes).unwrap_or(e))?;
        Component::from_binary(engine, &component_bytes).map_err(|e| {
            missing_features(engine, path, bytes).unwrap_or_else(|| {
                anyhow::anyhow!(
                    "`{}` is not a valid WebAssembly component (truncated or corrupt?): {e:#}",
                    path.display()
                )
            })
        })
    })?;
    Ok((format, component, from_cache))
}

/// The WebAssembly features `engine` enables ([`crate::run::engine_config`]): wasmtime 48's
/// defaults as this host builds it (no `gc` or `threads` cargo features) with the component
/// model's async ABI, except on the plugin engine (no concurrency support). Only used to name
/// what a refused guest needs.
fn host_features(engine: &Engine) -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    let features =
        (F::WASM3 | F::COMPONENT_MODEL | F::CM_ASYNC) - (F::GC | F::THREADS | F::EXCEPTIONS);
    match engine.get_concurrency_support() {
        true => features,
        false => features - F::CM_ASYNC,
    }
}

/// Whether `bytes` are a component using the component model's async ABI (WASI 0.3): an
/// async function type, a `stream` or `future` type, an `async` or `callback` canonical
/// option, or a canonical built-in beyond lift, lower and the three resource ones. Read from
/// the component's own sections and its nested components' (core modules hold none of
/// these), unvalidated and in one pass; what cannot be parsed counts as using it.
fn uses_async_abi(bytes: &[u8]) -> bool {
    use wasmparser::{CanonicalFunction, CanonicalOption, Parser, Payload};
    if !Parser::is_component(bytes) {
        return false;
    }
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ComponentTypeSection(types)) => {
                for ty in types {
                    match ty {
                        Ok(ty) if !is_async_type(&ty) => {}
                        _ => return true,
                    }
                }
            }
            Ok(Payload::ComponentCanonicalSection(functions)) => {
                for function in functions {
                    match function {
                        Ok(
                            CanonicalFunction::Lift { options, .. }
                            | CanonicalFunction::Lower { options, .. },
                        ) if !options.iter().any(|o| {
                            matches!(o, CanonicalOption::Async | CanonicalOption::Callback(_))
                        }) => {}
                        Ok(
                            CanonicalFunction::ResourceNew { .. }
                            | CanonicalFunction::ResourceDrop { .. }
                            | CanonicalFunction::ResourceRep { .. },
                        ) => {}
                        _ => return true,
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Whether a component type is or declares an async function, a `stream` or a `future`.
fn is_async_type(ty: &wasmparser::ComponentType) -> bool {
    use wasmparser::{
        ComponentDefinedType, ComponentType, ComponentTypeDeclaration, InstanceTypeDeclaration,
    };
    match ty {
        ComponentType::Defined(defined) => matches!(
            defined,
            ComponentDefinedType::Future(_) | ComponentDefinedType::Stream(_)
        ),
        ComponentType::Func(func) => func.async_,
        ComponentType::Component(declarations) => declarations
            .iter()
            .any(|d| matches!(d, ComponentTypeDeclaration::Type(ty) if is_async_type(ty))),
        ComponentType::Instance(declarations) => declarations
            .iter()
            .any(|d| matches!(d, InstanceTypeDeclaration::Type(ty) if is_async_type(ty))),
        ComponentType::Resource { .. } => false,
    }
}

/// If `bytes` are valid with every WebAssembly feature but need some the host does not
/// enable, an error naming those features (rather than calling the file corrupt).
fn missing_features(engine: &Engine, path: &Path, bytes: &[u8]) -> Option<anyhow::Error> {
    use wasmparser::{Validator, WasmFeatures};
    let enabled = host_features(engine);
    let valid_with = |features| {
        Validator::new_with_features(features)
            .validate_all(bytes)
            .is_ok()
    };
    if !valid_with(WasmFeatures::all()) || valid_with(enabled) {
        return None;
    }
    // A feature is needed if the file is invalid without it alone.
    let missing: Vec<String> = WasmFeatures::all()
        .difference(enabled)
        .iter_names()
        .filter(|(_, flag)| !valid_with(WasmFeatures::all() - *flag))
        .map(|(name, _)| feature_name(name))
        .collect();
    let named = if missing.is_empty() {
        "several WebAssembly features together that this host does not enable".to_owned()
    } else {
        format!(
            "the WebAssembly feature{} {}, which this host does not enable",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )
    };
    let component_model = match engine.get_concurrency_support() {
        true => "the component model with its async ABI, as WASI 0.3 needs",
        false => "the component model without its async ABI: plugins are WASI 0.2 components",
    };
    Some(anyhow::anyhow!(
        "`{}` cannot be loaded: it uses {named} (the host enables WebAssembly 2.0 and the 3.0 \
         features wasmtime supports without GC, exceptions and threads, and {component_model})",
        path.display()
    ))
}

/// `CM_ASYNC_STACKFUL` -> `component-model-async-stackful`.
fn feature_name(flag: &str) -> String {
    let name = flag.to_ascii_lowercase().replace('_', "-");
    match name.strip_prefix("cm-") {
        Some(rest) => format!("component-model-{rest}"),
        None if name == "cm64" => "component-model-64".to_owned(),
        None => name,
    }
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

/// What one pass over a core module finds.
struct CoreScan {
    /// Imports as `module::name`.
    imports: Vec<String>,
    exports: Vec<String>,
    /// Whether it carries WIT metadata (wit-bindgen's `component-type` custom sections), which
    /// describes its non-WASI imports and exports as interfaces.
    has_wit: bool,
}

fn scan_core_module(bytes: &[u8]) -> Result<CoreScan> {
    let mut scan = CoreScan {
        imports: Vec::new(),
        exports: Vec::new(),
        has_wit: false,
    };
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.context("it is not a valid core module (truncated or corrupt?)")? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("its import section is corrupt")?;
                    scan.imports
                        .push(format!("{}::{}", import.module, import.name));
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    scan.exports.push(
                        export
                            .context("its export section is corrupt")?
                            .name
                            .to_owned(),
                    );
                }
            }
            wasmparser::Payload::CustomSection(section)
                if section.name().starts_with("component-type") =>
            {
                scan.has_wit = true;
            }
            _ => {}
        }
    }
    Ok(scan)
}

/// Whether every import of a core module is a wasip1 function (so wasmtime's p1 can link it).
pub fn only_wasip1_imports(bytes: &[u8]) -> Result<bool> {
    let wasip1 = format!("{WASIP1_MODULE}::");
    Ok(scan_core_module(bytes)?
        .imports
        .iter()
        .all(|import| import.starts_with(&wasip1)))
}

/// A core module's imports as `module::name`.
pub fn core_imports(bytes: &[u8]) -> Result<Vec<String>> {
    Ok(scan_core_module(bytes)?.imports)
}

/// The core module `bytes` with its export `name` renamed to `_start` (replacing the old
/// `_start`), so the preview1 adapter's `run` calls it.
fn export_as_start(bytes: &[u8], name: &str) -> Result<Vec<u8>> {
    use wasm_encoder::{ExportKind, ExportSection, RawSection};
    let mut module = wasm_encoder::Module::new();
    let mut found = false;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.context("it is not a valid core module (truncated or corrupt?)")?;
        if let wasmparser::Payload::ExportSection(reader) = &payload {
            let mut exports = ExportSection::new();
            let mut names = Vec::new();
            for export in reader.clone() {
                let export = export.context("its export section is corrupt")?;
                names.push(export.name);
                let kind = match export.kind {
                    wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                        ExportKind::Func
                    }
                    wasmparser::ExternalKind::Table => ExportKind::Table,
                    wasmparser::ExternalKind::Memory => ExportKind::Memory,
                    wasmparser::ExternalKind::Global => ExportKind::Global,
                    wasmparser::ExternalKind::Tag => ExportKind::Tag,
                };
                if export.name == name {
                    if kind != ExportKind::Func {
                        bail!("its export `{name}` is not a function");
                    }
                    found = true;
                    exports.export("_start", kind, export.index);
                } else if export.name != "_start" {
                    exports.export(export.name, kind, export.index);
                }
            }
            if !found {
                bail!("it exports no `{name}`; it exports: {}", names.join(", "));
            }
            module.section(&exports);
        } else if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: &bytes[range],
            });
        }
    }
    if !found {
        bail!("it exports nothing, so not `{name}`");
    }
    Ok(module.finish())
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

/// Converts a wasip1 core module into a component, so it runs through the same linker: a
/// command with the command adapter, a library with the reactor adapter.
fn core_module_to_component(bytes: &[u8], role: CoreRole) -> Result<Vec<u8>> {
    check_core_module(bytes, role)?;
    let adapter = match role {
        CoreRole::Command => WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        CoreRole::Library => WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    // A command's `proc_exit` code comes through as under `wasmtime run` (`p1_exit`).
    let rerouted = match role {
        CoreRole::Command => p1_exit::reroute_proc_exit(bytes, WASIP1_MODULE)?,
        CoreRole::Library => None,
    };
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(rerouted.as_deref().unwrap_or(bytes))?
        .adapter(WASIP1_MODULE, adapter)?
        .encode()
        .map_err(|e| anyhow::anyhow!("converting it to a component failed: {e:#}"))
}

/// A WASI command exports `_start`; a library carries WIT metadata for its exports. Imports
/// from outside `wasi_snapshot_preview1` need WIT metadata saying which interfaces they are.
fn check_core_module(bytes: &[u8], role: CoreRole) -> Result<()> {
    let scan = scan_core_module(bytes)?;
    let has_start = scan.exports.iter().any(|name| name == "_start");
    let wasip1 = format!("{WASIP1_MODULE}::");
    let foreign_imports: Vec<&str> = scan
        .imports
        .iter()
        .map(String::as_str)
        .filter(|import| !import.starts_with(&wasip1))
        .collect();
    if role == CoreRole::Command && !has_start {
        bail!(
            "it is a core module without a `_start` export, so it is not a WASI command \
             (a reactor or library module?)"
        );
    }
    if role == CoreRole::Library && !scan.has_wit {
        bail!(
            "it is a core module without WIT metadata, so its exports have no interface types \
             another component could import; build it as a component (wasm32-wasip2), or with \
             wit-bindgen, which embeds the metadata"
        );
    }
    if !foreign_imports.is_empty() && !scan.has_wit {
        bail!(
            "it imports functions that no WASI world provides: {}",
            foreign_imports.join(", ")
        );
    }
    Ok(())
}

/// Finds the export a custom entry point names: `NAME` at the top level, or
/// `INTERFACE#NAME`; it must be a function that takes and returns nothing.
fn find_function_export(engine: &Engine, component: &Component, entry: &str) -> Result<EntryPoint> {
    let (instance, name) = match entry.rsplit_once('#') {
        Some((instance, name)) => (Some(instance), name),
        None => (None, entry),
    };
    let ty = component.component_type();
    let mut functions = Vec::new();
    let mut found = None;
    for (export, item) in ty.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(func) => {
                functions.push(export.to_owned());
                if instance.is_none() && export == name {
                    found = Some((None, func));
                }
            }
            ComponentItem::ComponentInstance(interface) => {
                for (inner, item) in interface.exports(engine) {
                    if let ComponentItem::ComponentFunc(func) = item.ty {
                        functions.push(format!("{export}#{inner}"));
                        let matches =
                            instance.is_some_and(|i| unversioned(i) == unversioned(export));
                        if matches && inner == name {
                            found = Some((Some(export.to_owned()), func));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let Some((instance, func)) = found else {
        bail!(
            "the component exports no function `{entry}`; its functions: {}",
            if functions.is_empty() {
                "none".to_owned()
            } else {
                functions.join(", ")
            }
        );
    };
    if func.params().len() != 0 || func.results().len() != 0 {
        bail!("the entry point `{entry}` must take and return nothing");
    }
    Ok(EntryPoint::Function {
        instance,
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod async_abi_tests {
    use super::uses_async_abi;

    fn uses(text: &str) -> bool {
        uses_async_abi(&wat::parse_str(text).unwrap())
    }

    #[test]
    fn components_without_async_types_or_built_ins_do_not_use_it() {
        assert!(!uses("(module (func (export \"_start\")))"));
        assert!(!uses("(component)"));
        assert!(!uses(
            r#"(component
                (import "f" (func (param "x" u32) (result string)))
                (type (instance (export "g" (func (param "l" (list u8))))))
                (type (resource (rep i32)))
                (core func (canon resource.new 1)))"#
        ));
    }

    #[test]
    fn async_functions_streams_futures_and_built_ins_use_it() {
        assert!(uses(
            r#"(component (import "f" (func async (param "x" u32))))"#
        ));
        assert!(uses("(component (type (stream u8)))"));
        assert!(uses(
            r#"(component (type (instance (type (future u32)) (export "g" (func)))))"#
        ));
        assert!(uses(
            r#"(component (type (component (type (func async)) (export "h" (func)))))"#
        ));
        assert!(uses("(component (core func (canon waitable-set.new)))"));
        assert!(uses(
            r#"(component
                (import "f" (func))
                (core module $m (memory (export "m") 1))
                (core instance $i (instantiate $m))
                (core func (canon lower (func 0) async (memory (core memory $i "m")))))"#
        ));
        // Nested components count.
        assert!(uses("(component (component (type (stream u8))))"));
        // What cannot be read goes to the engine that reports every feature it lacks.
        assert!(uses_async_abi(b"\0asm\x0d\0\x01\0\xff"));
    }
}
