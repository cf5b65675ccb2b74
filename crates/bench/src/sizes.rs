//! `est-bench --sizes FILE`: where the bytes of a component go. Prints, for
//! each core module inside the component (or for a core module), its code
//! size and its largest functions, named from the module's `name` section
//! (demangled) when the build kept one (`cargo build --profile
//! wasm-profiling ...`, the same code as `wasm-release` with names).
//! Sizes are of function bodies after LTO, so a function's size includes
//! whatever was inlined into it.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;
use wasmparser::{Encoding, KnownCustom, Name, Parser, Payload, TypeRef};

/// One core module's functions.
#[derive(Default)]
struct Module {
    /// How many functions it imports (function indices count them first).
    imported: u32,
    /// The size in bytes of each defined function's body, in order.
    bodies: Vec<usize>,
    /// Function names by function index.
    names: HashMap<u32, String>,
}

impl Module {
    /// The largest `top` functions, with their sizes, largest first.
    fn largest(&self, top: usize) -> Vec<(usize, String)> {
        let mut functions: Vec<(usize, String)> = self
            .bodies
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let index = self.imported + u32::try_from(i).unwrap_or(u32::MAX);
                let name = self.names.get(&index).map_or_else(
                    || format!("function[{index}]"),
                    |name| format!("{:#}", rustc_demangle::demangle(name)),
                );
                (size, name)
            })
            .collect();
        functions.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        functions.truncate(top);
        functions
    }
}

/// The core modules of `wasm` (a component or a core module), in the order
/// they appear.
fn modules(wasm: &[u8]) -> Result<Vec<Module>> {
    let mut done = Vec::new();
    // One entry per module or component being read; `None` for components.
    let mut open: Vec<Option<Module>> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.context("not a WebAssembly module or component")?;
        let current = open.last_mut().and_then(Option::as_mut);
        match (payload, current) {
            (Payload::Version { encoding, .. }, _) => open.push(match encoding {
                Encoding::Module => Some(Module::default()),
                Encoding::Component => None,
            }),
            (Payload::ImportSection(imports), Some(module)) => {
                for import in imports.into_imports() {
                    if matches!(import?.ty, TypeRef::Func(_)) {
                        module.imported += 1;
                    }
                }
            }
            (Payload::CodeSectionEntry(body), Some(module)) => {
                let range = body.range();
                module
                    .bodies
                    .push(usize::try_from(range.end - range.start)?);
            }
            (Payload::CustomSection(custom), Some(module)) => {
                if let KnownCustom::Name(names) = custom.as_known() {
                    for subsection in names {
                        if let Name::Function(map) = subsection? {
                            for naming in map {
                                let naming = naming?;
                                module.names.insert(naming.index, naming.name.to_owned());
                            }
                        }
                    }
                }
            }
            (Payload::End(_), _) => {
                if let Some(Some(module)) = open.pop() {
                    done.push(module);
                }
            }
            _ => {}
        }
    }
    Ok(done)
}

/// Prints the code size of each core module of the file at `path` and,
/// for the modules whose functions have names, their `top` largest.
pub fn print(path: &Path, top: usize) -> Result<()> {
    let wasm = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let modules = modules(&wasm).with_context(|| format!("{}", path.display()))?;
    println!("{}: {} bytes", path.display(), wasm.len());
    for (i, module) in modules.iter().enumerate() {
        let code: usize = module.bodies.iter().sum();
        println!(
            "core module {i}: {} functions, {code} bytes of code",
            module.bodies.len()
        );
        if !module.names.is_empty() {
            for (size, name) in module.largest(top) {
                println!("{size:>8}  {name}");
            }
        }
    }
    if modules.iter().all(|m| m.names.is_empty()) {
        println!(
            "(no function names: `cargo build --profile wasm-profiling --target wasm32-wasip2 -p est-ca-handler --lib` keeps them, with the same code)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_named_and_ranked_by_body_size() {
        // One import, then two functions: `small` (1-byte body: `end`)
        // and `big` (a body with a few instructions).
        let wasm = wat_module();
        let modules = modules(&wasm).unwrap();
        assert_eq!(modules.len(), 1);
        let largest = modules[0].largest(5);
        assert_eq!(largest.len(), 2);
        assert_eq!(largest[0].1, "big");
        assert_eq!(largest[1].1, "small");
        assert!(largest[0].0 > largest[1].0, "{largest:?}");
    }

    #[test]
    fn the_component_is_read_module_by_module() {
        let modules = modules(est_ca_host::COMPONENT).unwrap();
        assert!(modules.len() >= 2, "{} core modules", modules.len());
        let code: usize = modules.iter().flat_map(|m| &m.bodies).sum();
        assert!(
            code > 100_000 && code < est_ca_host::COMPONENT.len(),
            "{code}"
        );
    }

    /// A core module in the binary format with an imported function and two
    /// defined ones, named `small` and `big`.
    fn wat_module() -> Vec<u8> {
        let section = |id: u8, contents: &[u8]| {
            let mut out = vec![id, u8::try_from(contents.len()).unwrap()];
            out.extend_from_slice(contents);
            out
        };
        let name = |s: &str| [&[u8::try_from(s.len()).unwrap()][..], s.as_bytes()].concat();
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        // type 0: [] -> []
        wasm.extend(section(1, &[1, 0x60, 0, 0]));
        // import "m" "f" (func (type 0))
        wasm.extend(section(
            2,
            &[[1].as_slice(), &name("m"), &name("f"), &[0, 0]].concat(),
        ));
        // two functions of type 0
        wasm.extend(section(3, &[2, 0, 0]));
        // bodies: `end`; `nop nop nop nop end`
        wasm.extend(section(10, &[2, 2, 0, 0x0b, 6, 0, 1, 1, 1, 1, 0x0b]));
        // name section: functions 1 = small, 2 = big
        let names = [[2].as_slice(), &[1], &name("small"), &[2], &name("big")].concat();
        let subsection = section(1, &names);
        wasm.extend(section(0, &[name("name"), subsection].concat()));
        wasm
    }
}
