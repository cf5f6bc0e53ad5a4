//! The orchestrator: starts the strategies, then the feed, shows a live progress line, performs
//! the upgrade mode's restart and upgrade, and on every path (success, failure, timeout,
//! Ctrl-C) kills what still runs and removes every segment and file it created.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use flatipc::Segment;

use crate::procs::{interrupted, wait_ready, Proc};
use crate::report::Fields;
use crate::schema::Schema;
use crate::summary::{self, Outcome};

/// The C strategy for `market.data`, built by `build.rs`.
const C_MARKET: &str = env!("FLATIPC_DEMO_C_MARKET");
/// The version-1 C strategy for `market.evo` (empty if it did not compile).
const C_EVO_V1: &str = env!("FLATIPC_DEMO_C_EVO_V1");
/// The compiler output of a failed `C_EVO_V1` build.
const C_ERRORS: &str = env!("FLATIPC_DEMO_C_ERRORS");

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub count: u64,
    pub upgrade: bool,
    /// Segment names start with it (`/dev/shm/flatipc.<prefix>-stream`, `...-fanout`).
    pub prefix: String,
    pub timeout: Duration,
}

/// A running demo: its processes and what it must clean up.
#[derive(Debug)]
struct Demo {
    plan: Plan,
    stream: String,
    fanout: String,
    /// The C strategy's state file (upgrade mode: it survives a SIGKILL).
    state: Option<PathBuf>,
    /// Running (or exited, not yet collected) processes, in progress-line order.
    procs: Vec<Proc>,
    /// Processes the demo is done with: the killed C strategy, the version-1 feed.
    retired: Vec<Proc>,
    started: Instant,
    deadline: Instant,
    last_line: Instant,
    terminal: bool,
}

/// Runs the demo and prints its summary; the exit status is 0 only if everything agreed.
pub fn run(plan: Plan) -> std::process::ExitCode {
    let stream = format!("{}-stream", plan.prefix);
    let fanout = format!("{}-fanout", plan.prefix);
    let state = plan.upgrade.then(|| {
        std::env::temp_dir().join(format!("flatipc-demo.{}.c-strategy.state", plan.prefix))
    });
    let now = Instant::now();
    let mut demo = Demo {
        deadline: now + plan.timeout,
        plan,
        stream,
        fanout,
        state,
        procs: Vec::new(),
        retired: Vec::new(),
        started: now,
        last_line: now,
        terminal: std::io::stdout().is_terminal(),
    };
    demo.intro();
    let outcome = if demo.plan.upgrade { demo.upgrade() } else { demo.basic() };
    demo.clear_line();
    let left = demo.shutdown();
    let problems = match outcome {
        Ok(outcome) => summary::print(&outcome),
        Err(e) => vec![e],
    };
    summary::finish(&[demo.stream.clone(), demo.fanout.clone()], &left, problems)
}

impl Demo {
    fn intro(&self) {
        let (schema, story) = if self.plan.upgrade {
            (
                "schemas/evolution/v1 and v2/market.fidl (library market.evo, versions 1 and 2)",
                "version-1 feed → kill -9 and restart the C strategy → version-2 feed",
            )
        } else {
            ("schemas/market.fidl (library market.data, version 2)", "a feed and two strategies")
        };
        println!("flatipc demo: {story}");
        println!("  schema   {schema}");
        println!(
            "           compiled by build.rs (flatipc_gen::Builder) to Rust modules and C headers"
        );
        let (shm, pad) = ("/dev/shm/flatipc.", " ".repeat(24));
        println!("  feed     Rust process → framed stream {shm}{} → C strategy (C11)", self.stream);
        println!("{pad}→ broadcast stream {shm}{} → Rust strategy (tethered)", self.fanout);
        println!("  messages {} with sequence numbers", group(self.plan.count));
    }

    /// A command that runs this binary as `role`.
    fn role(&self, role: &str, schema: Schema) -> Result<Command, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let mut command = Command::new(exe);
        command.args([role, "--schema", schema.arg()]);
        Ok(command)
    }

    fn rust_strategy(&self, schema: Schema) -> Result<Proc, String> {
        let mut command = self.role("strategy", schema)?;
        command.args(["--fanout", &self.fanout, "--count", &self.plan.count.to_string()]);
        Proc::spawn("Rust strategy", command)
    }

    fn c_strategy(&self, exe: &str) -> Result<Proc, String> {
        let mut command = Command::new(exe);
        command.args(["--stream", &self.stream, "--count", &self.plan.count.to_string()]);
        if let Some(state) = &self.state {
            command.arg("--state").arg(state);
        }
        Proc::spawn("C strategy", command)
    }

    /// A feed of sequence numbers `from..from + count`; `checksum` continues another feed's.
    fn feed(
        &self,
        label: &str,
        schema: Schema,
        (from, count): (u64, u64),
        checksum: Option<&str>,
    ) -> Result<Proc, String> {
        let mut command = self.role("feed", schema)?;
        command.args(["--stream", &self.stream, "--fanout", &self.fanout]);
        command.args(["--from", &from.to_string(), "--count", &count.to_string()]);
        if let Some(checksum) = checksum {
            command.args(["--checksum", checksum]);
        }
        Proc::spawn(label, command)
    }

    /// Starts the strategies (so that they see the first message), then `feed`.
    fn start(&mut self, c_exe: &str, schema: Schema) -> Result<(), String> {
        let mut c = self.c_strategy(c_exe)?;
        let mut rust = self.rust_strategy(schema)?;
        let ready = wait_ready(&mut [&mut c, &mut rust]);
        self.procs.extend([c, rust]);
        ready
    }

    fn basic(&mut self) -> Result<Outcome, String> {
        self.start(C_MARKET, Schema::Market)?;
        let feed = self.feed("feed", Schema::Market, (0, self.plan.count), None)?;
        self.procs.insert(0, feed);
        self.watch(|_| Ok(true))?;
        let mut feed = self.procs.remove(0);
        let feeds = vec![("feed".to_owned(), self.result(&mut feed)?)];
        self.outcome(feeds)
    }

    /// The upgrade mode: the version-1 feed publishes the first half; the C strategy is killed
    /// and restarted once it has counted a quarter (or once that feed is done, for tiny counts);
    /// then the version-2 feed publishes the second half.
    fn upgrade(&mut self) -> Result<Outcome, String> {
        if C_EVO_V1.is_empty() {
            let errors = std::fs::read_to_string(C_ERRORS).unwrap_or_default();
            return Err(format!("the version-1 C strategy did not compile:\n{errors}"));
        }
        if let Some(state) = &self.state {
            // A file left by an earlier run under the same name would be resumed from.
            let _ = std::fs::remove_file(state);
        }
        let half = self.plan.count / 2;
        self.start(C_EVO_V1, Schema::EvoV1)?;
        self.procs.insert(0, self.feed("feed v1", Schema::EvoV1, (0, half), None)?);
        let (mut restarted, mut upgraded) = (false, false);
        self.watch(|demo| {
            let feed_done = demo.procs[0].exited().is_some();
            if !restarted && (demo.c_progress() >= half / 2 || feed_done) {
                restarted = true;
                demo.restart_c()?;
            }
            if restarted && !upgraded && feed_done {
                upgraded = true;
                demo.upgrade_feed(half)?;
            }
            Ok(upgraded)
        })?;
        let mut v1 = self.retired.pop().expect("the version-1 feed retired last");
        let mut v2 = self.procs.remove(0);
        let feeds = vec![
            ("feed v1".to_owned(), self.result(&mut v1)?),
            ("feed v2".to_owned(), self.result(&mut v2)?),
        ];
        self.outcome(feeds)
    }

    fn c_index(&self) -> usize {
        self.procs.iter().position(|p| p.label == "C strategy").expect("the C strategy runs")
    }

    fn c_progress(&self) -> u64 {
        self.procs[self.c_index()].progress()
    }

    /// Kills the C strategy (SIGKILL) and starts a new one on the same ring and state file.
    fn restart_c(&mut self) -> Result<(), String> {
        let c = self.c_index();
        let mut old = self.procs.remove(c);
        old.kill();
        self.retired.push(old);
        self.event("killed the C strategy (SIGKILL); starting it again");
        let mut new = self.c_strategy(C_EVO_V1)?;
        let ready = wait_ready(&mut [&mut new]);
        let resumed = new.progress();
        self.procs.insert(c, new);
        ready?;
        self.event(&format!(
            "the new C strategy resumed with {} messages counted (its counts survive in a \
             state file; the ring hands it what the old one had not released)",
            group(resumed)
        ));
        Ok(())
    }

    /// Replaces the finished version-1 feed by a version-2 feed that continues its sequence
    /// numbers (from `half`) and its checksum.
    fn upgrade_feed(&mut self, half: u64) -> Result<(), String> {
        let mut v1 = self.procs.remove(0);
        let fields = self.result(&mut v1)?;
        self.retired.push(v1);
        self.event(&format!(
            "the version-1 feed stopped after {} messages; starting the version-2 feed on the \
             same rings (the strategies stay version 1)",
            group(fields.num("messages"))
        ));
        let range = (half, self.plan.count - half);
        let v2 = self.feed("feed v2", Schema::EvoV2, range, Some(fields.text("checksum")))?;
        self.procs.insert(0, v2);
        Ok(())
    }

    /// The outcome, with the strategies' results (the processes still in `procs`).
    fn outcome(&mut self, feeds: Vec<(String, Fields)>) -> Result<Outcome, String> {
        let strategies = self.strategies()?;
        Ok(Outcome {
            upgrade: self.plan.upgrade,
            count: self.plan.count,
            feeds,
            strategies,
            elapsed: self.started.elapsed(),
        })
    }

    /// The results of the strategies (the remaining processes).
    fn strategies(&mut self) -> Result<Vec<(String, Fields)>, String> {
        let mut procs = std::mem::take(&mut self.procs);
        let results = procs
            .iter_mut()
            .map(|p| Ok((p.label.clone(), self.result(p)?)))
            .collect::<Result<Vec<_>, String>>();
        self.retired.extend(procs);
        results
    }

    fn result(&self, p: &mut Proc) -> Result<Fields, String> {
        p.result().ok_or_else(|| format!("{} exited without a result", p.label))
    }

    /// Runs until every process has exited successfully and `step` (called every 20 ms; it may
    /// start and stop processes) returned true; refreshes the progress line every 200 ms.
    fn watch(
        &mut self,
        mut step: impl FnMut(&mut Demo) -> Result<bool, String>,
    ) -> Result<(), String> {
        loop {
            if interrupted() {
                return Err("interrupted (Ctrl-C): stopping every process".into());
            }
            if Instant::now() > self.deadline {
                return Err(format!(
                    "timed out after {} s (--timeout): stopping every process",
                    self.plan.timeout.as_secs()
                ));
            }
            let mut all_done = true;
            for p in &mut self.procs {
                match p.exited() {
                    Some(status) if !status.success() => {
                        return Err(format!("{} failed ({status})", p.label));
                    }
                    Some(_) => {}
                    None => all_done = false,
                }
            }
            let stepped = step(self)?;
            if self.last_line.elapsed()
                >= Duration::from_millis(if self.terminal { 200 } else { 1000 })
            {
                self.progress_line();
            }
            if all_done && stepped {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One line with each process's count and rate since the last line.
    fn progress_line(&mut self) {
        let now = Instant::now();
        let mut text = String::new();
        for p in &mut self.procs {
            let count = p.progress();
            let secs = now.duration_since(p.last.1).as_secs_f64();
            let rate = count.saturating_sub(p.last.0) as f64 / secs.max(1e-3);
            p.last = (count, now);
            if !text.is_empty() {
                text.push_str(" │ ");
            }
            text.push_str(&format!("{} {} {:>5.2} M/s", p.label, millions(count), rate / 1e6));
        }
        text.push_str(&format!(" │ {:.1} s", self.started.elapsed().as_secs_f64()));
        self.last_line = now;
        let mut out = std::io::stdout().lock();
        if self.terminal {
            let _ = write!(out, "\r{text:<100}");
        } else {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
    }

    /// Erases the progress line (on a terminal).
    fn clear_line(&self) {
        if self.terminal {
            print!("\r{:100}\r", "");
            let _ = std::io::stdout().flush();
        }
    }

    /// Prints what just happened, on its own line above the progress line.
    fn event(&self, text: &str) {
        self.clear_line();
        println!("  [{:5.1} s] {text}", self.started.elapsed().as_secs_f64());
    }

    /// Kills every process still running and removes the segments and the state file; returns
    /// the demo's files still in `/dev/shm` afterwards (there should be none).
    fn shutdown(&mut self) -> Vec<String> {
        for p in self.procs.iter_mut().chain(&mut self.retired) {
            p.kill();
        }
        for name in [&self.stream, &self.fanout] {
            // NotFound is fine: a run that failed early may not have created it.
            let _ = Segment::remove(name);
        }
        if let Some(state) = &self.state {
            let _ = std::fs::remove_file(state);
        }
        leftovers(&self.plan.prefix)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // A panic in the orchestrator still stops the children and removes the segments.
        let _ = self.shutdown();
    }
}

/// Files in `/dev/shm` whose name contains `flatipc.<prefix>`.
pub fn leftovers(prefix: &str) -> Vec<String> {
    let needle = format!("flatipc.{prefix}");
    let Ok(dir) = std::fs::read_dir("/dev/shm") else { return Vec::new() };
    dir.filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(&needle))
        .collect()
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1234567` as `1.23M`.
fn millions(n: u64) -> String {
    format!("{:>6.2}M", n as f64 / 1e6)
}
