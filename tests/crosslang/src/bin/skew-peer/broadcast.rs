//! The broadcast rings of the skew peer: a typed broadcast ring of `Quote` and a broadcast
//! stream of `market.evo`, where message `seq` is the one at position `seq - 1`.

use std::process::ExitCode;
use std::time::Instant;

use flatipc::broadcast::{
    BroadcastOptions, BroadcastReader, BroadcastStreamReader, BroadcastStreamWriter,
    BroadcastWriter, Policy, ReaderOptions, StartAt,
};
use flatipc::channel::{RecvError, SendError};
use flatipc::stream::{InSet, MessageSet};
use flatipc::{FlatMessage, OpenError};
use flatipc_crosslang_tests::skew::{
    expected, kind, AsWords, Kind, Ring, Words, BROADCAST_CAPACITY,
};

use super::{end_of, fail, End, FrameSink, How, Read, Release, Role, Sums, Tally, TIMEOUT, WAIT};

/// Attaches to a broadcast ring: a writer creates or opens it; a reader (tethered, or lossy)
/// opens it, or creates it when it does not exist yet.
pub(super) fn attach<Q: FlatMessage, L: MessageSet>(
    role: Role,
    ring: Ring,
    lossy: bool,
    create: bool,
    name: &str,
) -> Result<End<Q, L>, OpenError> {
    let options = BroadcastOptions { capacity: BROADCAST_CAPACITY, max_readers: 8, wait: WAIT };
    let policy = if lossy { Policy::Lossy } else { Policy::Tethered };
    let reader = ReaderOptions { policy, start: StartAt::Next, wait: WAIT };
    Ok(match (role, ring, create) {
        (Role::Writer, Ring::Broadcast, true) => {
            End::BroadcastWriter(BroadcastWriter::create(name, &options)?)
        }
        (Role::Writer, Ring::Broadcast, false) => {
            End::BroadcastWriter(BroadcastWriter::open(name, WAIT)?)
        }
        (Role::Reader, Ring::Broadcast, true) => {
            End::BroadcastReader(BroadcastReader::open_or_create(name, &options, &reader)?)
        }
        (Role::Reader, Ring::Broadcast, false) => {
            End::BroadcastReader(BroadcastReader::open(name, &reader)?)
        }
        (Role::Writer, _, true) => {
            End::BroadcastStreamWriter(BroadcastStreamWriter::create(name, &options)?)
        }
        (Role::Writer, _, false) => {
            End::BroadcastStreamWriter(BroadcastStreamWriter::open(name, WAIT)?)
        }
        (Role::Reader, _, true) => End::BroadcastStreamReader(
            BroadcastStreamReader::open_or_create(name, &options, &reader)?,
        ),
        (Role::Reader, _, false) => {
            End::BroadcastStreamReader(BroadcastStreamReader::open(name, &reader)?)
        }
    })
}

impl<L: MessageSet> FrameSink<L> for BroadcastStreamWriter<L> {
    fn put<T: InSet<L> + AsWords>(&mut self, words: &Words, how: How) -> Result<Words, SendError> {
        let message = T::from_words(words);
        match how {
            How::Loan => {
                let mut loan = self.loan::<T>()?;
                *loan = message;
                loan.commit()?;
            }
            How::TrySend => loop {
                match self.try_send(&message) {
                    Err(SendError::Full) => std::thread::yield_now(),
                    other => break other?,
                }
            },
            How::Send => self.send_timeout(&message, TIMEOUT)?,
        }
        Ok(message.words())
    }
}

fn send_quote<R: Release>(
    w: &mut BroadcastWriter<R::Quote>,
    words: &Words,
    how: How,
) -> Result<Words, SendError> {
    let quote = R::Quote::from_words(words);
    match how {
        How::Loan => {
            let mut loan = w.loan();
            *loan = quote;
            loan.commit()?;
        }
        How::TrySend => loop {
            match w.try_send(&quote) {
                Err(SendError::Full) => std::thread::yield_now(),
                other => break other?,
            }
        },
        How::Send => w.send_timeout(&quote, TIMEOUT)?,
    }
    Ok(quote.words())
}

/// Waits for a line on stdin (or its end): the test attaches the readers first.
fn wait_for_go() {
    let _ = std::io::stdin().read_line(&mut String::new());
}

/// Sends `count` messages after the last one in the ring, prints `SENT`.
pub(super) fn write<R: Release>(
    end: End<R::Quote, R::Library>,
    ring: Ring,
    count: u64,
) -> ExitCode {
    let (mut typed, mut framed) = match end {
        End::BroadcastWriter(w) => (Some(w), None),
        End::BroadcastStreamWriter(w) => (None, Some(w)),
        _ => unreachable!("a broadcast writer writes"),
    };
    wait_for_go();
    let first = match (&typed, &framed) {
        (Some(w), _) => w.position(),
        (_, Some(w)) => w.position(),
        _ => unreachable!(),
    } + 1;
    let mut sums = Sums::new();
    for seq in first..first + count {
        let k = kind(ring, seq, R::VERSION);
        let words = expected(k, seq);
        let sent = match (&mut typed, &mut framed) {
            (Some(w), _) => send_quote::<R>(w, &words, How::of(seq)),
            (_, Some(w)) => R::send(w, k, &words, How::of(seq)),
            _ => unreachable!(),
        };
        match sent {
            Ok(written) => sums.add(k, &written, R::VERSION),
            Err(e) => return fail("broadcast send", e),
        }
    }
    sums.print(count);
    ExitCode::SUCCESS
}

/// What a broadcast reader got from one receive: `(position, missed before it)` after the
/// message was checked, or the error.
type Got = Result<(u64, u64), RecvError>;

/// Reads until `count` messages were received or missed (from writers that may take over the
/// ring one after another: a disconnect before that waits for the next writer), then waits for
/// the last writer's detach; prints `RECV`.
pub(super) fn read<R: Release>(end: End<R::Quote, R::Library>, ring: Ring, count: u64) -> ExitCode {
    let mut tally = Tally::new();
    let mut next: Box<dyn FnMut(&mut Tally) -> Got> = match end {
        End::BroadcastReader(mut r) => Box::new(move |tally: &mut Tally| {
            let m = r.recv_timeout(TIMEOUT)?;
            let seq = m.position() + 1;
            let read = Read::Known(Kind::Quote, m.words());
            tally.check::<R>(ring, seq, m.version(), Kind::Quote.id(), read);
            Ok((m.position(), m.missed()))
        }),
        End::BroadcastStreamReader(mut r) => Box::new(move |tally: &mut Tally| {
            let f = r.recv_timeout(TIMEOUT)?;
            let seq = f.position() + 1;
            tally.check::<R>(ring, seq, f.version(), f.id(), R::read(&f));
            Ok((f.position(), f.missed()))
        }),
        _ => unreachable!("a broadcast reader reads"),
    };
    let (mut missed, mut waiting) = (0, None::<Instant>);
    while tally.count + missed < count {
        match next(&mut tally) {
            Ok((_, before)) => {
                missed += before;
                waiting = None;
            }
            // Between two writers: wait for the next one, for a while.
            Err(RecvError::Disconnected)
                if waiting.get_or_insert_with(Instant::now).elapsed() < TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return fail("broadcast recv", e),
        }
    }
    let end = end_of(next(&mut tally).map(|(position, _)| position));
    tally.report(missed, &end)
}
