//! The orchestrator's child processes: spawning them with their standard output on a pipe, a
//! thread per child that parses what it reports (`report.rs`), killing them, and the signal
//! handler that turns Ctrl-C into a clean shutdown.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::report::{self, Fields, Line};

/// What a child reported so far (written by its reader thread).
#[derive(Debug, Default)]
struct Reported {
    ready: AtomicBool,
    progress: AtomicU64,
    result: Mutex<Option<Fields>>,
}

/// A child process of the demo.
#[derive(Debug)]
pub struct Proc {
    /// How the summary and the progress line name it.
    pub label: String,
    child: Child,
    reported: Arc<Reported>,
    reader: Option<JoinHandle<()>>,
    exit: Option<ExitStatus>,
    /// The progress count and time of the last progress line (for its rate).
    pub last: (u64, Instant),
}

impl Proc {
    /// Starts `command` with its standard output piped to a reader thread; standard error is
    /// the demo's. The child is killed if the orchestrator dies first.
    ///
    /// # Errors
    ///
    /// The program could not be started.
    pub fn spawn(label: &str, mut command: Command) -> Result<Proc, String> {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        // If the orchestrator is killed (even with SIGKILL), its children follow.
        let die_with_parent = || {
            // SAFETY: `prctl(PR_SET_PDEATHSIG, SIGKILL)` takes two integers and only sets an
            // attribute of the calling process.
            if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        };
        // SAFETY: `pre_exec` runs the closure in the child between fork and exec, where only
        // async-signal-safe functions may be called: it makes one system call (`prctl`) and
        // allocates nothing (`last_os_error` reads errno).
        unsafe { command.pre_exec(die_with_parent) };
        let mut child =
            command.spawn().map_err(|e| format!("cannot start {label} ({command:?}): {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let reported = Arc::new(Reported::default());
        let shared = Arc::clone(&reported);
        let reader = std::thread::spawn(move || {
            for text in BufReader::new(stdout).lines() {
                let Ok(text) = text else { break };
                match report::parse(&text) {
                    Line::Ready => shared.ready.store(true, Ordering::Release),
                    Line::Progress(n) => shared.progress.store(n, Ordering::Relaxed),
                    Line::Result(fields) => {
                        if let Some(n) = fields.opt("messages") {
                            shared.progress.store(n, Ordering::Relaxed);
                        }
                        *shared.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(fields);
                    }
                    Line::Other(text) => println!("\r{text}"),
                }
            }
        });
        Ok(Proc {
            label: label.to_owned(),
            child,
            reported,
            reader: Some(reader),
            exit: None,
            last: (0, Instant::now()),
        })
    }

    /// Whether it printed `READY`.
    pub fn ready(&self) -> bool {
        self.reported.ready.load(Ordering::Acquire)
    }

    /// The last message count it reported.
    pub fn progress(&self) -> u64 {
        self.reported.progress.load(Ordering::Relaxed)
    }

    /// Its exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Kills it (SIGKILL) if it still runs, and reaps it.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }

    /// Waits for its output to end (it has exited) and returns its `RESULT`, if it printed one.
    pub fn result(&mut self) -> Option<Fields> {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.reported.result.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Waits until every process in `procs` printed `READY`.
///
/// # Errors
///
/// One exited first, or 15 s passed, or the demo was interrupted.
pub fn wait_ready(procs: &mut [&mut Proc]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if procs.iter().all(|p| p.ready()) {
            return Ok(());
        }
        for p in procs.iter_mut() {
            if let Some(status) = p.exited() {
                return Err(format!("{} exited before attaching ({status})", p.label));
            }
        }
        if interrupted() {
            return Err("interrupted".into());
        }
        if Instant::now() > deadline {
            return Err("the strategies did not attach within 15 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether SIGINT, SIGTERM or SIGHUP arrived (after [`install_signal_handlers`]).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Makes SIGINT (Ctrl-C), SIGTERM and SIGHUP set a flag instead of killing the orchestrator,
/// so that it can kill its children and remove its segments.
pub fn install_signal_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `sigaction` is a plain C struct for which all-zero bytes are a valid value
        // (no handler, empty mask, no flags).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: `sa_mask` is a valid, writable `sigset_t`.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is initialised and names a handler that only stores to an atomic
        // (async-signal-safe); the old action is not asked for (null).
        let rc = unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
        debug_assert_eq!(rc, 0);
    }
}
