//! `host inspect`: what a guest imports and exports, and which worlds can run it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use wasmtime::Engine;

use crate::guest::{self, GuestFormat, RUN_INTERFACE, unversioned};
use crate::world::BUILT_IN;
use crate::world::wit::missing_in_world;

/// The report `host inspect` prints.
pub fn inspect(engine: &Engine, path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let (format, component, _) = guest::compile(engine, path, &bytes)?;
    let imports = guest::component_imports(engine, &component);
    let exports = guest::component_exports(engine, &component);
    let mut out = String::new();
    let shown = path.display();
    match format {
        GuestFormat::Component => writeln!(out, "{shown}: a WebAssembly component")?,
        GuestFormat::CoreModule => {
            let how = if guest::only_wasip1_imports(&bytes)? {
                "run by wasmtime's own wasip1 in the cli world and in the cloud world (whose p1 \
                 layer serves its filesystem)"
            } else {
                "run as a component through the preview1 adapter (it imports more than wasip1)"
            };
            writeln!(out, "{shown}: a wasip1 core module, {how}")?;
            writeln!(out, "\nwasip1 imports:")?;
            for import in guest::core_imports(&bytes)? {
                writeln!(out, "  {import}")?;
            }
        }
    }
    writeln!(out, "\nimports:")?;
    for import in &imports {
        writeln!(out, "  {import}")?;
    }
    writeln!(out, "\nexports:")?;
    for export in &exports {
        writeln!(out, "  {export}")?;
    }
    let exported = |interface: &str| {
        exports
            .iter()
            .any(|export| unversioned(export) == interface)
    };
    let (command, plugin) = (
        exported(RUN_INTERFACE),
        exported(crate::plugin::HANDLER_INTERFACE),
    );
    writeln!(out, "\nworlds:")?;
    for (world, _) in BUILT_IN {
        let missing = missing_in_world(world, &imports)?;
        let verdict = match (missing.is_empty(), command, plugin) {
            (true, true, _) => "can run".to_owned(),
            (true, false, true) => "can run as a plugin (`host call`)".to_owned(),
            (true, false, false) => format!(
                "imports fit, but it exports neither `{RUN_INTERFACE}` nor `{}`, so the host cannot run it",
                crate::plugin::HANDLER_INTERFACE
            ),
            (false, ..) => format!("cannot run: missing {}", missing.join(", ")),
        };
        writeln!(out, "  {world}: {verdict}")?;
    }
    Ok(out)
}
