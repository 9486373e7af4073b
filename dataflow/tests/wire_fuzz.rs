//! The frame decoder against hostile input: random bytes, and real protocol messages
//! mutated (bits flipped, cut short, extended, their length prefix or version byte
//! changed). Every frame goes through both decoders the cluster has: [`decode`] over a
//! slice and [`read_frame`] over a stream that hands bytes over in small pieces,
//! sometimes not ready and sometimes interrupted, as a QUIC stream does.
//!
//! Properties: nothing panics; the two decoders agree (same message, or the same
//! error); an error says why in its text; valid frames round-trip; and memory follows
//! the bytes really sent, never the length a header announces: a header over the limit
//! is refused without allocating at all, and a short frame costs at most
//! [`PAYLOAD_CHUNK`] or twice the bytes that came. A counting global allocator (per
//! thread, so parallel tests do not disturb each other) measures the largest single
//! allocation made while decoding.
//!
//! Each property runs 2000 cases unless `PROPTEST_CASES` says otherwise.

use futures::io::AsyncRead;
use neptune_dataflow::cluster::protocol::{
    Block, Control, ExecutorEvent, ExecutorRequest, FailureKind, FetchBlock, JobSpec, Launch, Peer,
    Register, Registered, ShuffleLocations, TaskDone, TaskKey, TaskResult, TaskUpdate,
};
use neptune_dataflow::cluster::wire::{
    decode, encode, read_frame, WireError, HEADER_LEN, PAYLOAD_CHUNK, WIRE_VERSION,
};
use neptune_dataflow::cluster::RemoteAction;
use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

/// The receiver's frame limit in these tests: small enough that the allocation bound
/// means something, far above every generated message.
const LIMIT: usize = 1 << 20;

// ---------------------------------------------------------------------------------
// Measuring allocations

/// The system allocator, noting the largest allocation of a thread while it measures.
struct Counting;

thread_local! {
    /// Whether this thread is measuring now.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    /// The largest allocation (or reallocation's new size) since measuring began.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: allocations during thread teardown happen after the slots are gone.
    let _ = MEASURING.try_with(|m| {
        if m.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; noting a size touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`; returns its result and the largest single allocation it made.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    MEASURING.with(|m| m.set(true));
    let out = f();
    MEASURING.with(|m| m.set(false));
    (out, LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------------
// A stream that hands bytes over the way a network does

/// Reads `bytes` in pieces of the sizes in `pieces` (cycled); a piece of 0 is an
/// `Interrupted` error, which a reader must retry. Every other poll is `Pending` (after
/// waking its task), so a reader must also survive being suspended mid-frame.
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    pieces: Vec<usize>,
    turn: usize,
    pending_next: bool,
}

impl Trickle {
    fn new(bytes: Vec<u8>, pieces: Vec<usize>) -> Trickle {
        Trickle {
            bytes,
            at: 0,
            pieces: if pieces.is_empty() { vec![1] } else { pieces },
            turn: 0,
            pending_next: true,
        }
    }

    /// The bytes not yet read.
    fn rest(&self) -> &[u8] {
        &self.bytes[self.at..]
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.pending_next = !this.pending_next;
        if !this.pending_next {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let piece = this.pieces[this.turn % this.pieces.len()];
        this.turn += 1;
        if piece == 0 {
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        let n = piece.min(buf.len()).min(this.bytes.len() - this.at);
        buf[..n].copy_from_slice(&this.bytes[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(n))
    }
}

/// Polls `f` to completion with a waker that does nothing: the readers here are never
/// pending twice in a row, so no executor (and none of its allocations) is needed.
fn complete<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a read over an in-memory stream never completed");
}

// ---------------------------------------------------------------------------------
// Decoding through both paths

/// What decoding one input gave, through both decoders.
#[derive(Debug)]
struct Decoded<T> {
    /// `decode` over the slice: the message and the bytes its frame took.
    slice: Result<(T, usize), WireError>,
    /// `read_frame` over a trickling stream.
    stream: Result<Option<T>, WireError>,
    /// The bytes `read_frame` left unread.
    unread: usize,
    /// The largest allocation either decoder made.
    largest: usize,
}

fn decode_both<T: DeserializeOwned>(bytes: &[u8], pieces: &[usize], max: usize) -> Decoded<T> {
    let mut reader = Trickle::new(bytes.to_vec(), pieces.to_vec());
    let (slice, in_slice) = largest_allocation(|| decode::<T>(bytes, max));
    let (stream, in_stream) = largest_allocation(|| complete(read_frame::<_, T>(&mut reader, max)));
    Decoded {
        slice,
        stream,
        unread: reader.rest().len(),
        largest: in_slice.max(in_stream),
    }
}

/// The reasons an error's text may give: each names what was wrong. (No stream
/// errors: the in-memory stream only ever interrupts, which a reader retries.)
const REASONS: [&str; 4] = [
    "truncated frame: ",
    "oversized frame: ",
    "frame of protocol version ",
    "malformed frame: ",
];

/// The properties every input must have, valid or not.
fn check_any<T: DeserializeOwned + PartialEq + Debug>(
    bytes: &[u8],
    pieces: &[usize],
) -> Result<Decoded<T>, TestCaseError> {
    let d = decode_both::<T>(bytes, pieces, LIMIT);
    prop_assert!(
        d.largest <= LIMIT,
        "{} bytes allocated at once, over the {LIMIT}-byte limit",
        d.largest
    );
    match (&d.slice, &d.stream) {
        (Ok((a, used)), Ok(Some(b))) => {
            prop_assert_eq!(a, b);
            prop_assert_eq!(bytes.len() - used, d.unread);
        }
        // An empty stream is a clean end; an empty slice is a frame cut at 0 bytes.
        (Err(WireError::Truncated { got: 0, .. }), Ok(None)) => {
            prop_assert!(bytes.is_empty());
        }
        (Err(a), Err(b)) => {
            let (a, b) = (a.to_string(), b.to_string());
            prop_assert_eq!(&a, &b, "the decoders disagree on why");
            prop_assert!(
                REASONS.iter().any(|r| a.starts_with(r)) && a.len() > 20,
                "an error that does not say why: {:?}",
                a
            );
        }
        (slice, stream) => {
            prop_assert!(false, "decoders disagree: {slice:?} against {stream:?}");
        }
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------
// The protocol's messages

/// One message of each kind a frame carries, with the type it is decoded as.
#[derive(Clone, Debug)]
enum Sample {
    Register(Register),
    Registered(Registered),
    GetJob(ExecutorRequest),
    Job(Option<JobSpec>),
    Event(ExecutorEvent),
    Launch(Launch),
    Update(TaskUpdate),
    Control(Control),
    Fetch(FetchBlock),
    Block(Block),
}

/// Runs `$body` with `$m` bound to the sample's message, as its own type.
macro_rules! with_message {
    ($sample:expr, |$m:ident| $body:expr) => {
        match $sample {
            Sample::Register($m) => $body,
            Sample::Registered($m) => $body,
            Sample::GetJob($m) => $body,
            Sample::Job($m) => $body,
            Sample::Event($m) => $body,
            Sample::Launch($m) => $body,
            Sample::Update($m) => $body,
            Sample::Control($m) => $body,
            Sample::Fetch($m) => $body,
            Sample::Block($m) => $body,
        }
    };
}

/// Decodes `bytes` as every message type in turn, checking [`check_any`] for each.
fn check_as_every_type(bytes: &[u8], pieces: &[usize]) -> Result<(), TestCaseError> {
    check_any::<Register>(bytes, pieces)?;
    check_any::<Registered>(bytes, pieces)?;
    check_any::<ExecutorRequest>(bytes, pieces)?;
    check_any::<Option<JobSpec>>(bytes, pieces)?;
    check_any::<ExecutorEvent>(bytes, pieces)?;
    check_any::<Launch>(bytes, pieces)?;
    check_any::<TaskUpdate>(bytes, pieces)?;
    check_any::<Control>(bytes, pieces)?;
    check_any::<FetchBlock>(bytes, pieces)?;
    check_any::<Block>(bytes, pieces)?;
    Ok(())
}

fn text() -> impl Strategy<Value = String> {
    ".{0,16}"
}

/// An address as the protocol carries it: serde encodes an IPv6 socket address as its
/// address and port, so flow label and scope id do not travel and are left at 0 here.
fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        any::<(Ipv4Addr, u16)>().prop_map(SocketAddr::from),
        any::<(Ipv6Addr, u16)>().prop_map(SocketAddr::from),
    ]
}

fn blob() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..200)
}

fn key() -> impl Strategy<Value = TaskKey> {
    (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(job, stage, partition, attempt)| TaskKey {
            job,
            stage,
            partition,
            attempt,
        },
    )
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    (
        any::<u64>(),
        text(),
        blob(),
        any::<(u32, u32)>(),
        any::<usize>(),
        any::<bool>(),
    )
        .prop_map(
            |(job, builder, args, bases, default_partitions, count)| JobSpec {
                job,
                builder,
                args,
                bases,
                default_partitions,
                action: if count {
                    RemoteAction::Count
                } else {
                    RemoteAction::Collect
                },
            },
        )
}

fn launch() -> impl Strategy<Value = Launch> {
    let locations = proptest::collection::vec(
        (any::<u32>(), proptest::collection::vec(any::<u32>(), 0..8))
            .prop_map(|(shuffle, maps)| ShuffleLocations { shuffle, maps }),
        0..4,
    );
    let peers = proptest::collection::vec(
        (any::<u32>(), socket_addr(), text()).prop_map(|(id, addr, name)| Peer { id, addr, name }),
        0..4,
    );
    (
        key(),
        text(),
        any::<bool>(),
        proptest::option::of(job_spec()),
        locations,
        peers,
        proptest::collection::vec((text(), any::<u64>()), 0..4),
    )
        .prop_map(
            |(key, stage, stream, spec, locations, peers, broadcasts)| Launch {
                key,
                stage,
                stream,
                spec,
                locations,
                peers,
                broadcasts,
            },
        )
}

fn task_update() -> impl Strategy<Value = TaskUpdate> {
    let output = prop_oneof![
        (any::<u32>(), proptest::collection::vec(any::<u64>(), 0..8))
            .prop_map(|(shuffle, records)| TaskResult::Shuffle { shuffle, records }),
        blob().prop_map(TaskResult::Result),
    ];
    let done = (
        output,
        any::<[u64; 5]>(),
        any::<u32>(),
        proptest::collection::vec((text(), any::<u64>()), 0..4),
        any::<u64>(),
    )
        .prop_map(
            |(output, counters, suspensions, published, finished_ns)| TaskDone {
                output,
                counters,
                suspensions,
                published,
                finished_ns,
            },
        );
    prop_oneof![
        any::<(u64, u64)>()
            .prop_map(|(at_ns, received_ns)| TaskUpdate::Started { at_ns, received_ns }),
        any::<(u64, u64)>()
            .prop_map(|(at_ns, received_ns)| TaskUpdate::Paused { at_ns, received_ns }),
        Just(TaskUpdate::Resumed),
        done.prop_map(TaskUpdate::Finished),
        (text(), failure_kind()).prop_map(|(message, kind)| TaskUpdate::Failed { message, kind }),
    ]
}

fn failure_kind() -> impl Strategy<Value = FailureKind> {
    prop_oneof![
        Just(FailureKind::Error),
        Just(FailureKind::Panic),
        Just(FailureKind::Cancelled),
        any::<(u32, u32, u32)>().prop_map(|(executor, shuffle, map)| FailureKind::FetchFailed {
            executor,
            shuffle,
            map
        }),
    ]
}

fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        key().prop_map(Control::Pause),
        key().prop_map(Control::Resume),
        key().prop_map(Control::Kill),
        any::<u64>().prop_map(Control::EndJob),
        (text(), any::<u64>(), blob()).prop_map(|(name, version, value)| Control::Broadcast {
            name,
            version,
            value
        }),
    ]
}

fn sample() -> impl Strategy<Value = Sample> {
    let register = (
        any::<u64>(),
        proptest::collection::vec(text(), 0..6),
        any::<u32>(),
        (text(), any::<bool>()),
        socket_addr(),
        any::<u32>(),
    )
        .prop_map(
            |(fingerprint, builders, slots, (policy, pauses_batch), shuffle_addr, pid)| Register {
                fingerprint,
                builders,
                slots,
                policy,
                pauses_batch,
                shuffle_addr,
                pid,
            },
        );
    let registered = prop_oneof![
        any::<(u32, u64)>().prop_map(|(executor, heartbeat_ms)| Registered::Accepted {
            executor,
            heartbeat_ms
        }),
        text().prop_map(|reason| Registered::Refused { reason }),
    ];
    let fetch = any::<(u64, u32, u32, u32)>().prop_map(|(job, shuffle, map, reduce)| FetchBlock {
        job,
        shuffle,
        map,
        reduce,
    });
    let block = prop_oneof![
        blob().prop_map(Block::Data),
        text().prop_map(Block::Missing)
    ];
    prop_oneof![
        register.prop_map(Sample::Register),
        registered.prop_map(Sample::Registered),
        any::<u64>().prop_map(|job| Sample::GetJob(ExecutorRequest::GetJob(job))),
        proptest::option::of(job_spec()).prop_map(Sample::Job),
        blob().prop_map(|b| Sample::Event(ExecutorEvent::Heartbeat(b))),
        launch().prop_map(Sample::Launch),
        task_update().prop_map(Sample::Update),
        control().prop_map(Sample::Control),
        fetch.prop_map(Sample::Fetch),
        block.prop_map(Sample::Block),
    ]
}

/// How a reader is handed its bytes: piece sizes (0: an interruption), the first one
/// not 0 so that the stream makes progress.
fn pieces() -> impl Strategy<Value = Vec<usize>> {
    let piece = prop_oneof![1 => Just(0usize), 8 => 1usize..64, 1 => 64usize..4096];
    (1usize..64, proptest::collection::vec(piece, 0..5)).prop_map(|(first, mut rest)| {
        rest.insert(0, first);
        rest
    })
}

// ---------------------------------------------------------------------------------
// Mutations

/// What is done to a valid frame.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR bytes at these places with these (non-zero) masks.
    Flip(Vec<(Index, u8)>),
    /// Keep only the first bytes (fewer than the frame has).
    Cut(Index),
    /// Append bytes after the frame, leaving its header alone.
    Extend(Vec<u8>),
    /// Append bytes and count them in the payload length.
    ExtendPayload(Vec<u8>),
    /// Announce a payload length above the limit.
    HugeLength(u32),
    /// Announce a shorter payload than the message's.
    ShorterLength(Index),
    /// Announce a longer payload than is sent.
    LongerLength(u32),
    /// Another version byte.
    Version(u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = proptest::collection::vec(any::<u8>(), 1..64);
    prop_oneof![
        proptest::collection::vec((any::<Index>(), 1u8..=u8::MAX), 1..8).prop_map(Mutation::Flip),
        any::<Index>().prop_map(Mutation::Cut),
        bytes.clone().prop_map(Mutation::Extend),
        bytes.prop_map(Mutation::ExtendPayload),
        prop_oneof![Just(u32::MAX), (LIMIT as u32 + 1)..=u32::MAX].prop_map(Mutation::HugeLength),
        any::<Index>().prop_map(Mutation::ShorterLength),
        (1u32..(LIMIT as u32 / 2)).prop_map(Mutation::LongerLength),
        any::<u8>()
            .prop_filter("another version", |v| *v != WIRE_VERSION)
            .prop_map(Mutation::Version),
    ]
}

fn set_len(frame: &mut [u8], len: u32) {
    frame[1..HEADER_LEN].copy_from_slice(&len.to_le_bytes());
}

fn payload_len(frame: &[u8]) -> usize {
    u32::from_le_bytes(frame[1..HEADER_LEN].try_into().unwrap()) as usize
}

/// Encodes `message` and checks that both decoders give it back, having read the
/// whole frame and nothing more.
fn check_round_trip<T>(message: &T, pieces: &[usize]) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let frame = encode(message, LIMIT).unwrap();
    prop_assert_eq!(payload_len(&frame), frame.len() - HEADER_LEN);
    let d = check_any::<T>(&frame, pieces)?;
    let whole = matches!(&d.slice, Ok((back, used)) if back == message && *used == frame.len());
    prop_assert!(whole, "{:?}", d.slice);
    prop_assert_eq!(d.unread, 0);
    Ok(())
}

/// Encodes `message`, mutates the frame and checks what decoding it must give.
fn check_mutated<T>(message: &T, mutation: &Mutation, pieces: &[usize]) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let mut frame = encode(message, LIMIT).unwrap();
    let len = payload_len(&frame);
    match mutation {
        Mutation::Flip(flips) => {
            for (at, mask) in flips {
                let i = at.index(frame.len());
                frame[i] ^= mask;
            }
            // Anything may come of it except a panic, disagreement or a silent reason.
            check_any::<T>(&frame, pieces)?;
        }
        Mutation::Cut(at) => {
            let cut = at.index(frame.len());
            let d = check_any::<T>(&frame[..cut], pieces)?;
            let expected = if cut < HEADER_LEN {
                HEADER_LEN
            } else {
                frame.len()
            };
            let cut_short = matches!(d.slice, Err(WireError::Truncated { expected: e, got }) if e == expected && got == cut);
            prop_assert!(cut_short, "cut to {} bytes: {:?}", cut, d.slice);
            // Memory follows what arrived, not what the header announced.
            prop_assert!(d.largest <= PAYLOAD_CHUNK.max(2 * cut), "{:?}", d);
        }
        Mutation::Extend(extra) => {
            frame.extend_from_slice(extra);
            let d = check_any::<T>(&frame, pieces)?;
            // The frame is read; what follows is the next frame's, left on the stream.
            prop_assert!(
                matches!(&d.slice, Ok((m, used)) if m == message && *used == frame.len() - extra.len())
            );
            prop_assert_eq!(d.unread, extra.len());
        }
        Mutation::ExtendPayload(extra) => {
            frame.extend_from_slice(extra);
            set_len(&mut frame, (len + extra.len()) as u32);
            let d = check_any::<T>(&frame, pieces)?;
            // Decoding reads the message's bytes exactly as before, then finds the rest.
            let trailing =
                matches!(d.slice, Err(WireError::TrailingBytes { extra: n }) if n == extra.len());
            prop_assert!(trailing, "{:?}", d.slice);
        }
        Mutation::HugeLength(huge) => {
            set_len(&mut frame, *huge);
            let d = check_any::<T>(&frame, pieces)?;
            let refused = matches!(d.slice, Err(WireError::Oversized { len, max: LIMIT }) if len == u64::from(*huge));
            prop_assert!(refused, "{:?}", d.slice);
            prop_assert_eq!(
                d.slice.unwrap_err().to_string(),
                format!("oversized frame: {huge} bytes announced, limit {LIMIT}")
            );
            prop_assert_eq!(d.largest, 0, "refused only after allocating");
        }
        Mutation::ShorterLength(at) => {
            prop_assume!(len > 0);
            let shorter = at.index(len);
            set_len(&mut frame, shorter as u32);
            // The message's encoding needs all its bytes: a prefix of it never decodes.
            let d = check_any::<T>(&frame, pieces)?;
            prop_assert!(
                matches!(d.slice, Err(WireError::Malformed(_))),
                "{:?}",
                d.slice
            );
        }
        Mutation::LongerLength(more) => {
            let longer = len + *more as usize;
            set_len(&mut frame, longer as u32);
            let d = check_any::<T>(&frame, pieces)?;
            let truncated = matches!(d.slice, Err(WireError::Truncated { expected, got }) if expected == HEADER_LEN + longer && got == frame.len());
            prop_assert!(truncated, "{:?}", d.slice);
            prop_assert!(d.largest <= PAYLOAD_CHUNK.max(2 * frame.len()), "{:?}", d);
        }
        Mutation::Version(v) => {
            frame[0] = *v;
            let d = check_any::<T>(&frame, pieces)?;
            let refused = matches!(d.slice, Err(WireError::Version { got }) if got == *v);
            prop_assert!(refused, "{:?}", d.slice);
            prop_assert_eq!(d.largest, 0, "refused only after allocating");
        }
    }
    Ok(())
}

/// 2000 cases, or `PROPTEST_CASES`.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_message_round_trips_through_both_decoders(m in sample(), pieces in pieces()) {
        with_message!(&m, |message| check_round_trip(message, &pieces)?);
    }

    #[test]
    fn mutated_messages_fail_with_the_reason_or_decode(
        m in sample(),
        mutation in mutation(),
        pieces in pieces(),
    ) {
        with_message!(&m, |message| check_mutated(message, &mutation, &pieces)?);
    }

    #[test]
    fn random_bytes_fail_with_the_reason_or_decode(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        pieces in pieces(),
    ) {
        check_as_every_type(&bytes, &pieces)?;
    }

    #[test]
    fn random_payloads_behind_a_valid_header_fail_with_the_reason_or_decode(
        payload in proptest::collection::vec(any::<u8>(), 0..400),
        pieces in pieces(),
    ) {
        // Random bytes rarely pass the header; these reach the message decoder.
        let mut frame = vec![WIRE_VERSION];
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&payload);
        check_as_every_type(&frame, &pieces)?;
    }
}

#[test]
fn a_4_gib_length_with_a_1_mib_limit_is_refused_without_allocating() {
    let frame = [WIRE_VERSION, 0xff, 0xff, 0xff, 0xff, 1, 2, 3];
    let d = decode_both::<Launch>(&frame, &[3], LIMIT);
    assert_eq!(d.largest, 0);
    let why = d.stream.unwrap_err().to_string();
    assert_eq!(
        why,
        "oversized frame: 4294967295 bytes announced, limit 1048576"
    );
    assert_eq!(d.slice.unwrap_err().to_string(), why);
    // Refused on the header: the payload's bytes are not even read.
    assert_eq!(d.unread, 3);
}

#[test]
fn a_header_announcing_the_whole_limit_costs_one_chunk_until_bytes_come() {
    let limit = 64 << 20;
    let mut frame = vec![WIRE_VERSION];
    frame.extend_from_slice(&(limit as u32).to_le_bytes());
    frame.extend_from_slice(&[7; 100]);
    let d = decode_both::<Block>(&frame, &[4096], limit);
    assert!(
        matches!(d.stream, Err(WireError::Truncated { expected, got: 105 }) if expected == limit + HEADER_LEN),
        "{:?}",
        d.stream
    );
    assert!(d.largest <= PAYLOAD_CHUNK, "{} bytes at once", d.largest);
}

#[test]
fn a_payload_larger_than_one_chunk_reads_back_whole() {
    // The buffer grows while the payload arrives in pieces; nothing is lost between.
    let data: Vec<u8> = (0..5 * PAYLOAD_CHUNK + 17)
        .map(|i| (i % 251) as u8)
        .collect();
    let frame = encode(&Block::Data(data.clone()), LIMIT * 8).unwrap();
    let d = decode_both::<Block>(&frame, &[1000, 0, 70_000, 3], LIMIT * 8);
    assert_eq!(d.stream.unwrap(), Some(Block::Data(data)));
    // The buffer doubles, so it never holds much more than twice what arrived.
    assert!(d.largest <= 2 * frame.len(), "{} bytes at once", d.largest);
}
