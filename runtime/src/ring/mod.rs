//! What the typed channel (`docs/PROTOCOL.md` §3) and the framed stream (§4) share: the ring
//! protocol ([`core`], modelled by loom) and [`Shared`], the mapped segment as both ends of
//! either ring see it (positions, frame headers, parking flags, peer entries).

pub(crate) mod broadcast;
pub(crate) mod core;
#[cfg(not(loom))]
pub(crate) mod epoch;
#[cfg(not(loom))]
mod error;

#[cfg(not(loom))]
mod shared;

#[cfg(not(loom))]
pub use error::{EpochProblem, RecvError, SendError};
#[cfg(not(loom))]
pub(crate) use shared::{FrameHeader, Shared, READER, WRITER, WRITER_SEEN_GONE};

/// How an end finds its named segment: create it (from the options), open it, or either.
#[cfg(not(loom))]
pub(crate) enum Mode<'o, O> {
    Create(&'o O),
    OpenOrCreate(&'o O),
    Open,
}

/// Creates and/or opens the named segment as `mode` says, with the spec `spec` makes from the
/// options, checking an existing one against `expect`; a segment this call creates is marked
/// ready before it is returned (its ring is all zeroes, the initial state of every kind).
#[cfg(not(loom))]
pub(crate) fn named_segment<O>(
    name: &str,
    mode: Mode<'_, O>,
    spec: impl Fn(&O) -> crate::segment::SegmentSpec,
    expect: &crate::segment::Expect,
) -> Result<std::sync::Arc<crate::segment::Segment>, crate::error::OpenError> {
    use crate::segment::Segment;
    let segment = match mode {
        Mode::Create(options) => {
            let segment = Segment::create(name, &spec(options))?;
            segment.publish_ready();
            segment
        }
        Mode::OpenOrCreate(options) => {
            let (segment, created) = Segment::open_or_create(name, &spec(options), expect)?;
            if created {
                segment.publish_ready();
            }
            segment
        }
        Mode::Open => Segment::open(name, expect)?,
    };
    Ok(std::sync::Arc::new(segment))
}
