//! Frames on the wire between driver and executors.
//!
//! Every message travels as one frame:
//!
//! ```text
//! +---------+------------------------+---------------------------+
//! | version | payload length (u32 LE) | payload: postcard bytes   |
//! | 1 byte  | 4 bytes                 | `length` bytes            |
//! +---------+------------------------+---------------------------+
//! ```
//!
//! A peer is untrusted input, so decoding never panics and never allocates more than
//! the receiver's frame limit: the header is checked (version, then length against the
//! limit) before the payload buffer is made, that buffer grows with the bytes that
//! really arrive (a 5-byte header announcing 64 MiB costs 64 KiB until the rest
//! comes), and serde caps what a collection inside the payload may preallocate. Every
//! way a frame can be wrong has its own [`WireError`], so the connection can be closed
//! with a reason that says what the peer sent.

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::io;

/// The version of the frame format and of the messages it carries; a peer speaking
/// another version is refused rather than misread.
pub const WIRE_VERSION: u8 = 2;

/// Bytes of a frame header: the version and the payload length.
pub const HEADER_LEN: usize = 5;

/// The first buffer [`read_frame`] makes for a payload (or the payload's length, if
/// smaller); it doubles as bytes arrive. A peer's announced length alone thus never
/// costs more than this much memory.
pub const PAYLOAD_CHUNK: usize = 64 << 10;

/// The default limit on a frame's payload: 64 MiB. Bulk data (shuffle blocks) travels in
/// streams of its own, not in frames, so control messages stay far below it.
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// A socket address as messages carry it, with an IPv6 address's scope id: serde's own
/// compact form keeps only the address and port, and a link-local address (`fe80::…%2`)
/// means nothing without the interface that scope id names. Use it as
/// `#[serde(with = "wire::socket_addr")]`.
pub mod socket_addr {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::net::{IpAddr, SocketAddr, SocketAddrV6};

    #[derive(Serialize, Deserialize)]
    struct Wire {
        ip: IpAddr,
        port: u16,
        /// 0 for IPv4 (and IPv6 without one); ignored for IPv4 on reading.
        scope_id: u32,
    }

    /// Writes `addr` with its scope id.
    pub fn serialize<S: Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        let scope_id = match addr {
            SocketAddr::V6(v6) => v6.scope_id(),
            SocketAddr::V4(_) => 0,
        };
        Wire {
            ip: addr.ip(),
            port: addr.port(),
            scope_id,
        }
        .serialize(s)
    }

    /// Reads an address written by [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        let w = Wire::deserialize(d)?;
        Ok(match w.ip {
            IpAddr::V4(ip) => SocketAddr::new(IpAddr::V4(ip), w.port),
            IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, w.port, 0, w.scope_id)),
        })
    }
}

/// What can be wrong with a frame, or with the stream it came from.
#[derive(Debug)]
pub enum WireError {
    /// Reading or writing the underlying stream failed.
    Io(io::Error),
    /// The stream ended inside a frame: `got` of `expected` bytes arrived.
    Truncated {
        /// Bytes the frame needed (its header, or header and payload).
        expected: usize,
        /// Bytes that arrived before the end.
        got: usize,
    },
    /// The header announces a payload larger than the receiver accepts.
    Oversized {
        /// The announced payload length.
        len: u64,
        /// The receiver's limit.
        max: usize,
    },
    /// The frame is of another version of the protocol.
    Version {
        /// The version byte received.
        got: u8,
    },
    /// The payload is not a valid message (the message says where decoding failed).
    Malformed(String),
    /// The payload decoded into a message but bytes were left after it.
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },
    /// A message could not be encoded (or its encoding exceeds the frame limit).
    Encode(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Io(err) => write!(f, "stream error: {err}"),
            WireError::Truncated { expected, got } => {
                write!(
                    f,
                    "truncated frame: {got} of {expected} bytes before the end"
                )
            }
            WireError::Oversized { len, max } => {
                write!(f, "oversized frame: {len} bytes announced, limit {max}")
            }
            WireError::Version { got } => write!(
                f,
                "frame of protocol version {got}, this node speaks {WIRE_VERSION}"
            ),
            WireError::Malformed(why) => write!(f, "malformed frame: {why}"),
            WireError::TrailingBytes { extra } => {
                write!(f, "malformed frame: {extra} bytes after the message")
            }
            WireError::Encode(why) => write!(f, "cannot encode message: {why}"),
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WireError::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// Encodes `message` as one frame (header and payload).
///
/// ```
/// use neptune_dataflow::cluster::wire::{decode, encode, DEFAULT_MAX_FRAME};
///
/// let frame = encode(&("heartbeat", 7u32), DEFAULT_MAX_FRAME).unwrap();
/// let (message, used): ((String, u32), usize) = decode(&frame, DEFAULT_MAX_FRAME).unwrap();
/// assert_eq!((message, used), (("heartbeat".to_owned(), 7), frame.len()));
/// ```
pub fn encode<T: Serialize + ?Sized>(message: &T, max: usize) -> Result<Vec<u8>, WireError> {
    // The header goes first with a zero length, filled in once the payload is known.
    let mut frame = postcard::to_extend(message, vec![WIRE_VERSION, 0, 0, 0, 0])
        .map_err(|err| WireError::Encode(err.to_string()))?;
    let len = frame.len() - HEADER_LEN;
    if len > max || u32::try_from(len).is_err() {
        return Err(WireError::Encode(format!(
            "{len} bytes, over the {max}-byte frame limit"
        )));
    }
    frame[1..HEADER_LEN].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// Checks a frame header; returns the payload length.
fn check_header(header: [u8; HEADER_LEN], max: usize) -> Result<usize, WireError> {
    if header[0] != WIRE_VERSION {
        return Err(WireError::Version { got: header[0] });
    }
    let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    match usize::try_from(len) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(WireError::Oversized {
            len: u64::from(len),
            max,
        }),
    }
}

/// Decodes a payload into exactly one message.
fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    let (message, rest) =
        postcard::take_from_bytes(payload).map_err(|err| WireError::Malformed(err.to_string()))?;
    if rest.is_empty() {
        Ok(message)
    } else {
        Err(WireError::TrailingBytes { extra: rest.len() })
    }
}

/// Decodes the frame at the start of `bytes`; returns the message and the bytes the
/// frame took. Payloads over `max` bytes are refused before they are looked at.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Result<(T, usize), WireError> {
    let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(WireError::Truncated {
            expected: HEADER_LEN,
            got: bytes.len(),
        });
    };
    let len = check_header(*header, max)?;
    let end = HEADER_LEN + len;
    let Some(payload) = bytes.get(HEADER_LEN..end) else {
        return Err(WireError::Truncated {
            expected: end,
            got: bytes.len(),
        });
    };
    Ok((decode_payload(payload)?, end))
}

/// Writes `message` as one frame and flushes it.
pub async fn write_frame<W, T>(writer: &mut W, message: &T, max: usize) -> Result<(), WireError>
where
    W: AsyncWrite + Unpin,
    T: Serialize + ?Sized,
{
    let frame = encode(message, max)?;
    writer.write_all(&frame).await.map_err(WireError::Io)?;
    writer.flush().await.map_err(WireError::Io)
}

/// Reads one frame and decodes it; `Ok(None)` if the stream ended cleanly before a
/// frame began. The payload buffer is made only once its length passed the limit, and
/// grows with the bytes that arrive (see [`PAYLOAD_CHUNK`]).
pub async fn read_frame<R, T>(reader: &mut R, max: usize) -> Result<Option<T>, WireError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut header = [0u8; HEADER_LEN];
    let got = read_full(reader, &mut header).await?;
    if got == 0 {
        return Ok(None);
    }
    if got < HEADER_LEN {
        return Err(WireError::Truncated {
            expected: HEADER_LEN,
            got,
        });
    }
    let len = check_header(header, max)?;
    let payload = read_payload(reader, len).await?;
    decode_payload(&payload).map(Some)
}

/// Reads a payload of `len` bytes (already checked against the limit). The buffer
/// grows as bytes arrive, doubling from [`PAYLOAD_CHUNK`], so a header announcing a
/// large payload costs memory only once the payload is really sent; a buffer that
/// cannot be had is an error, not an abort.
async fn read_payload<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
) -> Result<Vec<u8>, WireError> {
    let mut payload = Vec::new();
    let mut filled = 0;
    while filled < len {
        let grow_to = len.min(filled.saturating_mul(2).max(PAYLOAD_CHUNK));
        payload
            .try_reserve_exact(grow_to - payload.len())
            .map_err(|err| {
                WireError::Io(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!("no buffer for a {len}-byte payload: {err}"),
                ))
            })?;
        payload.resize(grow_to, 0);
        let got = read_full(reader, &mut payload[filled..]).await?;
        filled += got;
        if filled < grow_to {
            return Err(WireError::Truncated {
                expected: HEADER_LEN + len,
                got: HEADER_LEN + filled,
            });
        }
    }
    Ok(payload)
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> Result<usize, WireError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(WireError::Io(err)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use proptest::prelude::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    /// A message with the shapes real ones have: variants, nesting, collections, text.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    enum Message {
        Register {
            name: String,
            slots: u32,
            builders: Vec<String>,
            fingerprint: [u8; 16],
        },
        Launch {
            job: u64,
            stage: u32,
            partition: u32,
            attempt: u16,
            args: Vec<u8>,
        },
        Status(BTreeMap<u64, Option<(i64, bool)>>),
        Bye,
    }

    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (
                ".{0,40}",
                any::<u32>(),
                proptest::collection::vec(".{0,12}", 0..6),
                any::<[u8; 16]>()
            )
                .prop_map(|(name, slots, builders, fingerprint)| Message::Register {
                    name,
                    slots,
                    builders,
                    fingerprint
                }),
            (
                any::<u64>(),
                any::<u32>(),
                any::<u32>(),
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(job, stage, partition, attempt, args)| Message::Launch {
                    job,
                    stage,
                    partition,
                    attempt,
                    args
                }),
            proptest::collection::btree_map(any::<u64>(), any::<Option<(i64, bool)>>(), 0..20)
                .prop_map(Message::Status),
            Just(Message::Bye),
        ]
    }

    const MAX: usize = 4096;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn messages_round_trip(m in message()) {
            let frame = encode(&m, MAX).unwrap();
            let (back, used): (Message, usize) = decode(&frame, MAX).unwrap();
            prop_assert_eq!(back, m.clone());
            prop_assert_eq!(used, frame.len());
            // The stream reader agrees with the slice decoder.
            let mut reader = futures::io::Cursor::new(frame);
            prop_assert_eq!(block_on(read_frame::<_, Message>(&mut reader, MAX)).unwrap(), Some(m));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode::<Message>(&bytes, MAX);
            let mut reader = futures::io::Cursor::new(bytes);
            let _ = block_on(read_frame::<_, Message>(&mut reader, MAX));
        }

        #[test]
        fn mutated_frames_never_panic(
            m in message(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut frame = encode(&m, MAX).unwrap();
            for (at, byte) in flips {
                let i = at.index(frame.len());
                frame[i] ^= byte | 1;
            }
            let _ = decode::<Message>(&frame, MAX);
            let mut reader = futures::io::Cursor::new(frame);
            let _ = block_on(read_frame::<_, Message>(&mut reader, MAX));
        }

        #[test]
        fn a_frame_cut_short_is_truncated(m in message(), cut in any::<prop::sample::Index>()) {
            let frame = encode(&m, MAX).unwrap();
            let cut = cut.index(frame.len());
            let truncated = matches!(
                decode::<Message>(&frame[..cut], MAX),
                Err(WireError::Truncated { .. })
            );
            prop_assert!(truncated, "a frame cut to {} bytes decoded", cut);
            let mut reader = futures::io::Cursor::new(&frame[..cut]);
            let read = block_on(read_frame::<_, Message>(&mut reader, MAX));
            let expected = if cut == 0 {
                matches!(read, Ok(None))
            } else {
                matches!(read, Err(WireError::Truncated { .. }))
            };
            prop_assert!(expected, "reading a frame cut to {} bytes gave {:?}", cut, read);
        }
    }

    #[test]
    fn socket_addresses_keep_an_ipv6_scope_id() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct At(#[serde(with = "socket_addr")] std::net::SocketAddr);
        for text in ["[fe80::1%3]:7077", "[::1]:1", "127.0.0.1:65535"] {
            let at = At(text.parse().unwrap());
            let frame = encode(&at, MAX).unwrap();
            let (back, _): (At, usize) = decode(&frame, MAX).unwrap();
            // An IPv6 address compares equal only with its scope id.
            assert_eq!(back, at, "{text}");
        }
    }

    #[test]
    fn each_fault_has_its_error() {
        let frame = encode(&Message::Bye, MAX).unwrap();
        assert!(matches!(
            decode::<Message>(&frame[..3], MAX),
            Err(WireError::Truncated {
                expected: 5,
                got: 3
            })
        ));
        let mut other = frame.clone();
        other[0] = 9;
        assert!(matches!(
            decode::<Message>(&other, MAX),
            Err(WireError::Version { got: 9 })
        ));
        let mut huge = frame.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode::<Message>(&huge, MAX).unwrap_err();
        assert!(
            matches!(err, WireError::Oversized { len, max: MAX } if len == u64::from(u32::MAX))
        );
        assert_eq!(
            err.to_string(),
            format!("oversized frame: 4294967295 bytes announced, limit {MAX}")
        );
        let mut extra = frame.clone();
        extra.push(0);
        extra[1] += 1;
        assert!(matches!(
            decode::<Message>(&extra, MAX),
            Err(WireError::TrailingBytes { extra: 1 })
        ));
        let bad = [WIRE_VERSION, 1, 0, 0, 0, 0xff];
        assert!(matches!(
            decode::<Message>(&bad, MAX),
            Err(WireError::Malformed(_))
        ));
        let big = Message::Launch {
            job: 0,
            stage: 0,
            partition: 0,
            attempt: 0,
            args: vec![0; MAX],
        };
        assert!(matches!(encode(&big, MAX), Err(WireError::Encode(_))));
    }

    #[test]
    fn a_stream_of_frames_reads_back_in_order_then_ends() {
        let messages = vec![
            Message::Bye,
            Message::Status(BTreeMap::from([(1, Some((-5, true))), (2, None)])),
            Message::Launch {
                job: 3,
                stage: 1,
                partition: 7,
                attempt: 2,
                args: vec![1, 2, 3],
            },
        ];
        let mut wire = futures::io::Cursor::new(Vec::new());
        for m in &messages {
            block_on(write_frame(&mut wire, m, MAX)).unwrap();
        }
        let bytes = wire.into_inner();
        let mut reader = futures::io::Cursor::new(bytes.clone());
        for m in &messages {
            let got: Option<Message> = block_on(read_frame(&mut reader, MAX)).unwrap();
            assert_eq!(got.as_ref(), Some(m));
        }
        assert!(block_on(read_frame::<_, Message>(&mut reader, MAX))
            .unwrap()
            .is_none());
        // Cut inside the last frame: the end is reported as a truncation, not a clean end.
        let mut reader = futures::io::Cursor::new(&bytes[..bytes.len() - 1]);
        let mut results = Vec::new();
        for _ in 0..messages.len() {
            results.push(block_on(read_frame::<_, Message>(&mut reader, MAX)));
        }
        assert!(results[..2].iter().all(|r| matches!(r, Ok(Some(_)))));
        assert!(matches!(results[2], Err(WireError::Truncated { .. })));
    }

    #[test]
    fn an_oversized_header_is_refused_before_any_payload_is_read() {
        // A header announcing 4 GiB followed by nothing: refused at once, no allocation.
        let mut reader = futures::io::Cursor::new(vec![WIRE_VERSION, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            block_on(read_frame::<_, Message>(&mut reader, MAX)),
            Err(WireError::Oversized { .. })
        ));
    }
}
