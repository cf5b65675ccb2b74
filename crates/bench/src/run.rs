//! The benchmark's run, phase by phase: the fixture, the cold start, the
//! modes that stop early (`--ab`, `--only`), the in-process rounds,
//! acme2certifier, the rows with `ca-handler serve`, and the table.

use crate::args::{Args, Contender};
use crate::contenders::Contenders;
use crate::fixture::Fixture;
use crate::measure::stats;
use crate::python::{install_package, python_run, python_setup};
use crate::{ab, cold, only_a2c, rounds, serve_rows, table};
use anyhow::Result;
use std::time::Instant;

/// Runs the benchmark `args` ask for (all but `--soak` and `--sizes`);
/// the native floor's blocking transport runs on `runtime`.
pub async fn run(args: Args, runtime: tokio::runtime::Handle) -> Result<()> {
    let fixture = Fixture::start(runtime).await?;
    let result = measure(&args, &fixture).await;
    fixture.server.shutdown().await;
    result
}

/// Everything but starting and stopping the fixture's server.
async fn measure(args: &Args, fixture: &Fixture) -> Result<()> {
    let settings = &fixture.settings;
    // Cold start: compiling the component, and instantiating it from InstancePre.
    let cold = cold::measure(args, settings).await?;
    let host = std::sync::Arc::clone(&cold.host);
    let contenders = Contenders::new(fixture, &host);

    if args.ab.is_some() || args.ab_pooling {
        return ab::run(args, &host, &cold.wasm, settings, &fixture.csr).await;
    }

    // Warm up both paths.
    for _ in 0..5 {
        contenders.component().await?;
        contenders.native().await?;
    }
    let quick = args.only_a2c;
    if let Some(only) = args.only {
        return only_one(args, &contenders, only).await;
    }
    let breakdown = if quick { 0 } else { args.samples };
    let breakdown = rounds::breakdown(&contenders, &host, settings, breakdown).await?;

    // Python: set up the virtualenv first (outside any timing).
    let python_env = if args.skip_python {
        Err("skipped (--skip-python)".to_owned())
    } else {
        python_setup(&fixture.dir, &fixture.pairs, &fixture.csr)
    };
    // The in-process package, from the checkout, for the stack.
    let package = match &python_env {
        Ok(env) if !args.skip_serve => install_package(&env.python),
        Ok(_) => Err("skipped (--skip-serve)".to_owned()),
        Err(why) => Err(why.clone()),
    };

    let (component_lat, native_lat) = rounds::latency(&contenders, args.samples).await?;
    let levels: &[usize] = if quick { &[] } else { &[1, 8, 64] };
    let throughput = rounds::throughput(&contenders, levels, args.burst).await?;

    let python = match &python_env {
        Ok(_) if quick => Err("skipped (--only-a2c)".to_owned()),
        Ok(env) => python_run(env, args.samples, 1)
            .and_then(|one| Ok((one, python_run(env, args.burst, 8)?))),
        Err(e) => Err(e.clone()),
    };

    // The rows that run `ca-handler serve` as a child process.
    let sections =
        serve_rows::measure(args, fixture, &python_env, &package, &contenders, quick).await;
    if quick {
        return only_a2c::run(args, &sections, component_lat, native_lat);
    }

    let (table, main_figures) = table::main_table(table::Rows {
        cold,
        breakdown,
        component_lat,
        native_lat,
        throughput,
        python,
    });
    let extra = sections.markdown(&main_figures, args.serve_total);
    println!("{table}\n\n{extra}");
    if let Some(path) = &args.markdown {
        table::write_markdown(path, &table, &extra, args.samples, args.burst)?;
    }
    Ok(())
}

/// `--only`: `--samples` enrollments through one contender, one at a
/// time; prints the median and the mean.
async fn only_one(args: &Args, contenders: &Contenders, only: Contender) -> Result<()> {
    let mut took = Vec::new();
    let begin = Instant::now();
    for _ in 0..args.samples {
        let start = Instant::now();
        match only {
            Contender::Component => contenders.component().await?,
            Contender::Native => contenders.native().await?,
        }
        took.push(start.elapsed());
    }
    let wall = begin.elapsed();
    println!(
        "median {:.3} ms, mean {:.3} ms over {} enrollments ({:.2} s)",
        stats(took).median,
        wall.as_secs_f64() * 1000.0 / args.samples as f64,
        args.samples,
        wall.as_secs_f64()
    );
    Ok(())
}
