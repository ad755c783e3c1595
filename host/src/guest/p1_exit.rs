//! Exit codes of wasip1 commands, as `wasmtime run` gives them.
//!
//! The preview1 adapter turns `proc_exit(code)` into `wasi:cli/exit.exit(result)`, which can
//! only say success or failure: every non-zero code became 1. wasmtime's own p1 exits with the
//! code when it is below 126 and fails the run (exit 1) otherwise. So before the module meets
//! the adapter, its `proc_exit` import is replaced by `wasi:cli/exit@0.2.12`'s
//! `exit-with-code` (which both worlds serve, wasmtime-wasi's own), and every use of it by a
//! small function appended to the module: codes 0–125 go through unchanged, larger ones exit 1.
//! The module then carries the WIT metadata saying what that import is, as wit-bindgen embeds.

use anyhow::{Context, Result};
use wasm_encoder::Function;
use wasm_encoder::reencode::{Error as ReencodeError, Reencode, utils};

/// Where the exit code goes: WASI 0.2.12 carries a code (0.2.0–0.2.11 only a result).
const EXIT_INTERFACE: &str = "wasi:cli/exit@0.2.12";
const EXIT_WITH_CODE: &str = "exit-with-code";
/// The codes `wasmtime run` passes through from `proc_exit`; others exit 1.
const PASSED_THROUGH: i32 = 126;

/// `bytes` (a wasip1 command module) with `proc_exit` rerouted as above, or `None` when it
/// does not import `proc_exit` (or defines no function, so there is nothing to reroute).
pub fn reroute_proc_exit(bytes: &[u8], wasip1_module: &str) -> Result<Option<Vec<u8>>> {
    let Some(mut shim) = scan(bytes, wasip1_module)? else {
        return Ok(None);
    };
    let mut module = wasm_encoder::Module::new();
    utils::parse_core_module(&mut shim, &mut module, wasmparser::Parser::new(0), bytes)
        .map_err(|e| anyhow::anyhow!("rerouting its `proc_exit` failed: {e}"))?;
    let mut module = module.finish();
    let (resolve, world) = EXIT_WORLD
        .as_ref()
        .map_err(|e| anyhow::anyhow!("the WIT of {EXIT_INTERFACE}: {e}"))?;
    wit_component::embed_component_metadata(
        &mut module,
        resolve,
        *world,
        wit_component::StringEncoding::UTF8,
    )?;
    Ok(Some(module))
}

/// What the rewrite needs to know of the module, from one pass.
struct Shim {
    wasip1_module: String,
    /// The `proc_exit` import's function index and type index.
    proc_exit: u32,
    proc_exit_type: u32,
    /// The appended function's index: after every imported and defined function.
    shim: u32,
}

fn scan(bytes: &[u8], wasip1_module: &str) -> Result<Option<Shim>> {
    let (mut imported, mut defined, mut found) = (0, None, None);
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.context("it is not a valid core module")? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("its import section is corrupt")?;
                    if let wasmparser::TypeRef::Func(ty) = import.ty {
                        if import.module == wasip1_module && import.name == "proc_exit" {
                            found = Some((imported, ty));
                        }
                        imported += 1;
                    }
                }
            }
            wasmparser::Payload::FunctionSection(reader) => defined = Some(reader.count()),
            _ => {}
        }
    }
    Ok(match (found, defined) {
        (Some((proc_exit, proc_exit_type)), Some(defined)) => Some(Shim {
            wasip1_module: wasip1_module.to_owned(),
            proc_exit,
            proc_exit_type,
            shim: imported + defined,
        }),
        _ => None,
    })
}

impl Reencode for Shim {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<Self::Error>> {
        Ok(if func == self.proc_exit {
            self.shim
        } else {
            func
        })
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        for import in section.into_imports() {
            let import = import?;
            let rerouted = import.module == self.wasip1_module && import.name == "proc_exit";
            let (module, name) = if rerouted {
                (EXIT_INTERFACE, EXIT_WITH_CODE)
            } else {
                (import.module, import.name)
            };
            imports.import(module, name, self.entity_type(import.ty)?);
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_function_section(self, functions, section)?;
        functions.function(self.proc_exit_type);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_code_section(self, code, section)?;
        // (func $proc_exit (param $code i32)
        //   (if (i32.lt_u (local.get $code) (i32.const 126))
        //     (then (call $exit_with_code (local.get $code))))
        //   (call $exit_with_code (i32.const 1))
        //   unreachable)
        let mut shim = Function::new([]);
        shim.instructions()
            .local_get(0)
            .i32_const(PASSED_THROUGH)
            .i32_lt_u()
            .if_(wasm_encoder::BlockType::Empty)
            .local_get(0)
            .call(self.proc_exit)
            .end()
            .i32_const(1)
            .call(self.proc_exit)
            .unreachable()
            .end();
        code.function(&shim);
        Ok(())
    }
}

/// The WIT world the rerouted import belongs to (`wasi:cli/exit@0.2.12`), resolved once.
static EXIT_WORLD: std::sync::LazyLock<Result<(wit_parser::Resolve, wit_parser::WorldId), String>> =
    std::sync::LazyLock::new(|| {
        let mut resolve = crate::world::wit::wasi_resolve().map_err(|e| format!("{e:#}"))?;
        let package = resolve
            .push_str(
                "p1-exit.wit",
                "package worldhost:p1-exit; world exit { import wasi:cli/exit@0.2.12; }",
            )
            .map_err(|e| format!("{e:#}"))?;
        let world = resolve
            .select_world(&[package], Some("exit"))
            .map_err(|e| format!("{e:#}"))?;
        Ok((resolve, world))
    });
