//! The rows that run `ca-handler serve` as a child process: its cold
//! starts, the comparison with `wasmtime serve`, and the acme2certifier
//! stack in front of it.

use crate::args::Args;
use crate::contenders::Contenders;
use crate::fixture::{Fixture, PASSWORD};
use crate::python::PythonEnv;
use crate::release::release_ca_handler;
use crate::{overhead, sections};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sections of those rows, and what the in-process module adds to
/// the host's own enrollment (through `contenders`); `quick`
/// (`--only-a2c`) measures the stack and that only. `python_env` and `package` are the virtualenv and the installed
/// package, or why there are none.
pub async fn measure(
    args: &Args,
    fixture: &Fixture,
    python_env: &Result<PythonEnv, String>,
    package: &Result<Duration, String>,
    contenders: &Contenders,
    quick: bool,
) -> sections::Sections {
    let ca_handler: Result<PathBuf, String> = if args.skip_serve {
        Err("skipped (--skip-serve)".to_owned())
    } else {
        match &args.ca_handler {
            Some(path) => Ok(path.clone()),
            None => release_ca_handler().map_err(|e| format!("{e:#}")),
        }
    };
    let cold = match &ca_handler {
        Ok(_) if quick => Err("skipped (--only-a2c)".to_owned()),
        Ok(bin) => est_bench::hosts::cold_start(bin, args.cold_runs)
            .await
            .map_err(|e| format!("{e:#}")),
        Err(why) => Err(why.clone()),
    };
    let hosts = match (&ca_handler, est_bench::hosts::wasmtime_cli()) {
        (Ok(_), _) if quick => Err("skipped (--only-a2c)".to_owned()),
        (Ok(bin), Ok(wasmtime)) => est_bench::hosts::compare(
            bin,
            &wasmtime,
            Path::new(est_ca_host::WASMTIME_SERVE_COMPONENT_PATH),
            args.serve_total,
        )
        .await
        .map_err(|e| format!("{e:#}")),
        (Err(why), _) => Err(why.clone()),
        (_, Err(why)) => Err(why),
    };
    let stack = match (&ca_handler, python_env, package) {
        (Ok(bin), Ok(env), Ok(_)) => {
            let token = format!("stack-{}", std::process::id());
            match est_bench::hosts::serve_process(
                bin,
                &fixture.server.https_url(),
                &fixture.anchor,
                PASSWORD,
                &token,
            )
            .await
            {
                Ok(serve) => sections::stack(
                    &env.python,
                    &fixture.dir,
                    &fixture.pairs,
                    &serve.base,
                    &token,
                    &env.csr,
                    sections::StackRun {
                        samples: args.samples,
                        burst: args.burst,
                        threads: 8,
                        rounds: 2,
                    },
                )
                .map_err(|e| format!("{e:#}; serve's log:\n{}", serve.log_tail())),
                Err(e) => Err(format!("{e:#}")),
            }
        }
        (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => Err(why.clone()),
    };
    // What the in-process module adds to the host's own enrollment, in
    // alternating blocks (the stack above interleaves other handlers).
    let overhead = match (python_env, package) {
        (Ok(env), Ok(_)) => overhead::measure(
            &env.python,
            &fixture.dir,
            &env.config,
            &env.csr,
            OVERHEAD_BLOCKS,
            args.samples.div_ceil(OVERHEAD_BLOCKS),
            || contenders.component(),
        )
        .await
        .map_err(|e| format!("{e:#}")),
        (Err(why), _) | (_, Err(why)) => Err(why.clone()),
    };
    sections::Sections {
        cold,
        hosts,
        stack,
        overhead,
        install: package.as_ref().ok().copied(),
    }
}

/// Blocks of the host's own enrollments and of the Python worker's that
/// take turns in the in-process module's overhead figure.
const OVERHEAD_BLOCKS: usize = 5;
