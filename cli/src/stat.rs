//! `flatipc stat NAME`: one segment's header and counters, once or refreshed in place
//! (`--watch`).

use std::io::{IsTerminal, Write};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::CliError;
use crate::report;
use crate::segments;

/// What `stat` was asked for.
#[derive(Debug)]
pub struct StatOptions {
    /// The segment.
    pub name: String,
    /// JSON instead of text (one object; one per line with `watch`).
    pub json: bool,
    /// Refresh until interrupted (or `count` refreshes).
    pub watch: bool,
    /// Time between refreshes.
    pub interval: Duration,
    /// Stop after this many refreshes.
    pub count: Option<u64>,
}

/// Runs `stat`.
///
/// # Errors
///
/// Segment errors; [`CliError::Output`].
pub fn run(options: &StatOptions, out: &mut impl Write) -> Result<(), CliError> {
    let inspector = segments::open(&options.name)?;
    let clear = options.watch && !options.json && std::io::stdout().is_terminal();
    let mut previous: Option<(u64, Instant)> = None;
    let mut shown = 0u64;
    loop {
        let snap = inspector.snapshot();
        let now = Instant::now();
        let rate = previous.map(|(pos, at)| {
            snap.write_pos.saturating_sub(pos) as f64 / now.duration_since(at).as_secs_f64()
        });
        previous = Some((snap.write_pos, now));
        let written = if options.json {
            let value = report::to_json(&snap, rate);
            if options.watch {
                serde_json::to_writer(&mut *out, &value)
            } else {
                serde_json::to_writer_pretty(&mut *out, &value)
            }
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
        } else {
            let text = report::stat_text(&snap, rate);
            // Home the cursor and clear the screen: the view refreshes in place.
            let prefix = if clear { "\x1b[H\x1b[2J" } else { "" };
            let sep = if options.watch && !clear && shown > 0 { "\n" } else { "" };
            write!(out, "{sep}{prefix}{text}")
        };
        written.and_then(|()| out.flush()).map_err(CliError::Output)?;
        shown += 1;
        if !options.watch || options.count.is_some_and(|count| shown >= count) {
            return Ok(());
        }
        thread::sleep(options.interval);
        if !inspector.still_linked() {
            eprintln!("flatipc: segment `{}` was removed", options.name);
            return Ok(());
        }
    }
}
