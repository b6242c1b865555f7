//! The websocket wire format (RFC 6455) as duban speaks it: the handshake's accept key,
//! server frames (`Framed`) encoded once and written byte for byte to every client, and the
//! clients' masked frames decoded (`Decoder`). No extension is ever agreed (no compression),
//! so a server frame's bytes do not depend on the connection: that is what lets one
//! encoding of an update go to ten thousand sockets without being framed again for each.
//!
//! The frames themselves are tungstenite's (`FrameHeader::parse`, `Frame::format`, its
//! opcodes and close frame). What stays here is what its `WebSocket` would otherwise do
//! per connection, and duban does not want per connection: a `WebSocket` owns its socket,
//! frames every message again and keeps a write buffer the size of the largest one, and its
//! `FrameSocket` reads through a 128 KiB buffer. The `Decoder` keeps no buffer between
//! whole frames, and checks what RFC 6455 asks of a client's frames (masked, no reserved
//! bits, short unfragmented control frames, fragments in order, UTF-8, close codes).

use std::io::Cursor;

use bytes::Bytes;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};

pub const PING: OpCode = OpCode::Control(Control::Ping);
pub const PONG: OpCode = OpCode::Control(Control::Pong);

/// Close codes used here (RFC 6455 §7.4.1).
pub mod code {
    pub const NORMAL: u16 = 1000;
    pub const AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const INVALID_DATA: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    use base64::Engine as _;
    use sha1::{Digest, Sha1};
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

/// Whether a `Sec-WebSocket-Key` is what RFC 6455 §4.1 asks for: 16 bytes in base64.
pub fn is_key(key: &[u8]) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|k| k.len() == 16)
}

/// One whole, unmasked server frame, ready to be written to any client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed {
    bytes: Bytes,
    header: usize,
}

impl Framed {
    /// A final frame (no fragments: duban's messages are sent whole) with no reserved bits
    /// and no mask, as a server sends them. The payload is copied twice (into the `Frame`,
    /// then into the wire bytes): once per message, not per client.
    pub fn new(opcode: OpCode, payload: &[u8]) -> Self {
        let header = FrameHeader {
            opcode,
            ..FrameHeader::default()
        };
        Self::format(Frame::from_payload(header, Bytes::copy_from_slice(payload)))
    }

    pub fn text(text: &str) -> Self {
        Self::new(OpCode::Data(Data::Text), text.as_bytes())
    }

    pub fn close(code: u16, reason: &str) -> Self {
        Self::format(Frame::close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })))
    }

    /// Lays the frame out once, header and payload in one buffer, so each client's write is
    /// a single write of shared bytes.
    fn format(frame: Frame) -> Self {
        let header = frame.len() - frame.payload().len();
        let mut out = Vec::with_capacity(frame.len());
        frame
            .format(&mut out)
            .expect("writing to a Vec does not fail");
        Self {
            bytes: Bytes::from(out),
            header,
        }
    }

    /// The frame as it goes on the wire.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The payload alone (for a text frame, the message), sharing the frame's memory.
    pub fn payload(&self) -> Bytes {
        self.bytes.slice(self.header..)
    }
}

/// A message from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(String),
    Binary,
    Ping(Vec<u8>),
    /// With its payload: only the one that carries a Ping's answers it.
    Pong(Vec<u8>),
    /// The client is closing, with its code if it gave one.
    Close(Option<u16>),
}

/// A client broke the protocol: the connection is closed with this code and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
}

const fn violation(code: u16, reason: &'static str) -> Violation {
    Violation { code, reason }
}

const UNKNOWN_OPCODE: Violation = violation(code::PROTOCOL, "unknown opcode");

/// Reads a client's frames from the bytes as they arrive, whatever the reads' boundaries.
#[derive(Debug)]
pub struct Decoder {
    max: usize,
    /// Bytes received and not yet decoded (empty, with no allocation, between messages
    /// of a well-behaved client that sends each frame in one piece).
    buffer: Vec<u8>,
    /// A fragmented message being put together: text or binary, and the payload so far.
    message: Option<(Data, Vec<u8>)>,
}

impl Decoder {
    /// `max`: the largest message (and frame payload) accepted.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            buffer: Vec::new(),
            message: None,
        }
    }

    /// Decodes what `bytes` complete; returns the messages in order. A frame cut between
    /// reads waits for its rest.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Vec<Incoming>, Violation> {
        // Decoded from the read itself, unless a frame was cut at the end of the last one.
        let joined = (!self.buffer.is_empty()).then(|| {
            let mut joined = std::mem::take(&mut self.buffer);
            joined.extend_from_slice(bytes);
            joined
        });
        let input = joined.as_deref().unwrap_or(bytes);
        let mut out = Vec::new();
        let mut at = 0;
        while let Some((message, used)) = self.frame(&input[at..])? {
            at += used;
            if let Some(message) = message {
                out.push(message);
            }
        }
        // Kept only while a frame is cut between reads: an idle connection holds no buffer.
        self.buffer = input[at..].to_vec();
        Ok(out)
    }

    /// The first whole frame in `b`, if there is one: what it completes, and its length.
    fn frame(&mut self, b: &[u8]) -> Result<Option<(Option<Incoming>, usize)>, Violation> {
        let mut cursor = Cursor::new(b);
        // Reading from memory cannot fail and a cut header is `None`, so the one error the
        // parse returns here is a reserved opcode.
        let parsed = FrameHeader::parse(&mut cursor).map_err(|_| UNKNOWN_OPCODE)?;
        let Some((header, len)) = parsed else {
            return Ok(None);
        };
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(violation(
                code::PROTOCOL,
                "reserved bits set, but no extension was agreed",
            ));
        }
        let Some(mask) = header.mask else {
            return Err(violation(
                code::PROTOCOL,
                "a client's frames must be masked",
            ));
        };
        let control = matches!(header.opcode, OpCode::Control(_));
        if control && len > 125 {
            return Err(violation(
                code::PROTOCOL,
                "a control frame of more than 125 bytes",
            ));
        }
        if len >> 63 != 0 {
            return Err(violation(code::PROTOCOL, "a length with its top bit set"));
        }
        let len = match usize::try_from(len) {
            Ok(len) if len <= self.max => len,
            _ => return Err(violation(code::TOO_BIG, "message too big")),
        };
        // The header's length (at most 14 bytes): a frame too big was refused above, before
        // its payload arrives; one within the limit waits for all of it.
        let at = cursor.position() as usize;
        let Some(masked) = b[at..].get(..len) else {
            return Ok(None);
        };
        // RFC 6455 §5.3 by hand: tungstenite's `apply_mask` is private to its crate.
        let payload: Vec<u8> = masked
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, m)| byte ^ m)
            .collect();
        let used = at + len;
        let message = match header.opcode {
            OpCode::Control(_) if !header.is_final => {
                return Err(violation(code::PROTOCOL, "a fragmented control frame"));
            }
            OpCode::Control(Control::Close) => Some(close(&payload)?),
            OpCode::Control(Control::Ping) => Some(Incoming::Ping(payload)),
            OpCode::Control(Control::Pong) => Some(Incoming::Pong(payload)),
            OpCode::Data(Data::Text | Data::Binary) if self.message.is_some() => {
                return Err(violation(
                    code::PROTOCOL,
                    "a message began before the last one ended",
                ));
            }
            OpCode::Data(data @ (Data::Text | Data::Binary)) if header.is_final => {
                Some(whole(data, payload)?)
            }
            OpCode::Data(data @ (Data::Text | Data::Binary)) => {
                self.message = Some((data, payload));
                None
            }
            OpCode::Data(Data::Continue) => {
                let Some((_, so_far)) = self.message.as_mut() else {
                    return Err(violation(
                        code::PROTOCOL,
                        "a continuation frame with no message begun",
                    ));
                };
                if so_far.len() + payload.len() > self.max {
                    return Err(violation(code::TOO_BIG, "message too big"));
                }
                so_far.extend_from_slice(&payload);
                match self.message.take() {
                    Some((data, payload)) if header.is_final => Some(whole(data, payload)?),
                    unfinished => {
                        self.message = unfinished;
                        None
                    }
                }
            }
            // Refused by the parse already; named so the match needs no catch-all.
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                return Err(UNKNOWN_OPCODE);
            }
        };
        Ok(Some((message, used)))
    }
}

fn whole(data: Data, payload: Vec<u8>) -> Result<Incoming, Violation> {
    if data == Data::Binary {
        return Ok(Incoming::Binary);
    }
    String::from_utf8(payload)
        .map(Incoming::Text)
        .map_err(|_| violation(code::INVALID_DATA, "a text message that is not UTF-8"))
}

fn close(payload: &[u8]) -> Result<Incoming, Violation> {
    let (sent, reason) = match payload {
        [] => return Ok(Incoming::Close(None)),
        [_] => return Err(violation(code::PROTOCOL, "a close frame of one byte")),
        [a, b, reason @ ..] => (u16::from_be_bytes([*a, *b]), reason),
    };
    // The codes an endpoint may send (RFC 6455 §7.4): 1004–1006 and 1015 are reserved.
    // Not tungstenite's `CloseCode::is_allowed`, which also refuses 1014 (registered with
    // IANA: bad gateway).
    if !matches!(sent, 1000..=1003 | 1007..=1014 | 3000..=4999) {
        return Err(violation(
            code::PROTOCOL,
            "a close code that may not be sent",
        ));
    }
    if std::str::from_utf8(reason).is_err() {
        return Err(violation(
            code::INVALID_DATA,
            "a close reason that is not UTF-8",
        ));
    }
    Ok(Incoming::Close(Some(sent)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The opcodes as RFC 6455 §5.2 numbers them, typed here by hand (and shadowing the
    // module's `PING` and `PONG`), so the frames laid out below owe nothing to the code under
    // test.
    const CONTINUATION: u8 = 0x0;
    const TEXT: u8 = 0x1;
    const BINARY: u8 = 0x2;
    const CLOSE: u8 = 0x8;
    const PING: u8 = 0x9;
    const PONG: u8 = 0xA;

    /// A frame laid out by hand from RFC 6455 §5.2, unmasked as a server sends it: `first`
    /// (FIN, RSV and opcode), the payload's length in its shortest form, the payload.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        match payload.len() {
            n @ 0..=125 => out.push(n as u8),
            n @ 126..=0xFFFF => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    /// The frame as a client sends it (§5.3): the mask bit set, the key after the length, and
    /// the payload (the frame's last `len` bytes) XORed with the key.
    fn masking(frame: &[u8], len: usize, mask: [u8; 4]) -> Vec<u8> {
        let (header, payload) = frame.split_at(frame.len() - len);
        let mut out = header.to_vec();
        out[1] |= 0x80;
        out.extend_from_slice(&mask);
        out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        out
    }

    /// A client frame as a browser would send it.
    fn masked(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        masking(&frame(first, payload), payload.len(), mask)
    }

    /// `len` bytes of UTF-8 made of `seed`'s characters (an `x` where the next one would not
    /// fit): a payload of any length that fragments cut through characters, and that a
    /// failing case shows in a few characters.
    fn text(seed: &str, len: usize) -> String {
        let mut out = String::with_capacity(len);
        for c in seed.chars().cycle() {
            if out.len() == len {
                break;
            }
            out.push(if out.len() + c.len_utf8() <= len {
                c
            } else {
                'x'
            });
        }
        out
    }

    /// Payload lengths at the edges of the 7-bit, 16-bit and 64-bit length forms, or any
    /// short one.
    fn length() -> impl Strategy<Value = usize> {
        prop_oneof![
            1 => prop::sample::select(vec![0, 1, 125, 126, 127, 65535, 65536, 65537, 100_000]),
            3 => 0usize..300,
        ]
    }

    /// A close code an endpoint may send (RFC 6455 §7.4).
    fn code() -> impl Strategy<Value = u16> {
        prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999]
    }

    /// A ping or a pong (opcode, payload of any length a control frame may have, mask).
    fn control() -> impl Strategy<Value = (u8, Vec<u8>, [u8; 4])> {
        let payload = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..=1),
            prop::collection::vec(any::<u8>(), 125),
            prop::collection::vec(any::<u8>(), 0..=125),
        ];
        (
            prop::sample::select(vec![PING, PONG]),
            payload,
            any::<[u8; 4]>(),
        )
    }

    /// A data message as a client sends it, in fragments.
    #[derive(Debug)]
    struct Message {
        text: bool,
        /// What the payload is made of (see `text`).
        seed: String,
        fragments: Vec<Fragment>,
    }

    #[derive(Debug)]
    struct Fragment {
        len: usize,
        mask: [u8; 4],
        /// The control frames sent after this fragment, before the next frame.
        then: Vec<(u8, Vec<u8>, [u8; 4])>,
    }

    fn message() -> impl Strategy<Value = Message> {
        let fragment = (
            length(),
            any::<[u8; 4]>(),
            prop::collection::vec(control(), 0..3),
        )
            .prop_map(|(len, mask, then)| Fragment { len, mask, then });
        (
            any::<bool>(),
            "\\PC{1,8}",
            prop::collection::vec(fragment, 1..4),
        )
            .prop_map(|(text, seed, fragments)| Message {
                text,
                seed,
                fragments,
            })
    }

    #[test]
    fn the_accept_key_of_the_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn server_frames_use_the_shortest_length() {
        let small = Framed::text("hi");
        assert_eq!(&small.bytes()[..], b"\x81\x02hi");
        assert_eq!(&small.payload()[..], b"hi");
        let medium = Framed::text(&"x".repeat(2048));
        assert_eq!(&medium.bytes()[..4], &[0x81, 126, 0x08, 0x00]);
        assert_eq!(medium.payload().len(), 2048);
        let large = Framed::text(&"x".repeat(70_000));
        assert_eq!(&large.bytes()[..2], &[0x81, 127]);
        assert_eq!(&large.bytes()[2..10], &70_000u64.to_be_bytes());
        assert_eq!(
            &Framed::close(code::AWAY, "bye").bytes()[..],
            b"\x88\x05\x03\xe9bye"
        );
    }

    #[test]
    fn control_frames_between_fragments_and_errors() {
        let mut d = Decoder::new(4096);
        let mut input = masked(0x01, b"{\"type\":", [1, 2, 3, 4]);
        input.extend(masked(0x89, b"p", [9, 9, 9, 9]));
        input.extend(masked(0x80, b"\"ping\"}", [5, 6, 7, 8]));
        input.extend(masked(0x8A, b"", [0, 0, 0, 0]));
        input.extend(masked(0x88, &[0x03, 0xE8], [1, 1, 1, 1]));
        assert_eq!(
            d.decode(&input).unwrap(),
            vec![
                Incoming::Ping(b"p".to_vec()),
                Incoming::Text(r#"{"type":"ping"}"#.into()),
                Incoming::Pong(Vec::new()),
                Incoming::Close(Some(1000)),
            ]
        );
        let unmasked = b"\x81\x02hi";
        assert_eq!(
            Decoder::new(4096).decode(unmasked).unwrap_err().code,
            code::PROTOCOL
        );
        let big = masked(0x81, &[b'x'; 5000], [1, 2, 3, 4]);
        assert_eq!(
            Decoder::new(4096).decode(&big[..20]).unwrap_err().code,
            code::TOO_BIG,
            "refused from its header, before the payload arrives"
        );
        let bad = masked(0x81, &[0xFF, 0xFE], [1, 2, 3, 4]);
        assert_eq!(
            Decoder::new(4096).decode(&bad).unwrap_err().code,
            code::INVALID_DATA
        );
        let long_ping = masked(0x89, &[b'p'; 126], [1, 2, 3, 4]);
        assert_eq!(
            Decoder::new(4096).decode(&long_ping).unwrap_err().code,
            code::PROTOCOL
        );
        let reserved_close = masked(0x88, &1005u16.to_be_bytes(), [1, 2, 3, 4]);
        assert_eq!(
            Decoder::new(4096).decode(&reserved_close).unwrap_err().code,
            code::PROTOCOL
        );
        let compressed = masked(0xC1, b"x", [1, 2, 3, 4]);
        assert_eq!(
            Decoder::new(4096).decode(&compressed).unwrap_err().code,
            code::PROTOCOL
        );
        let mut d = Decoder::new(4096);
        let mut pieces = masked(0x01, &[b'x'; 3000], [1, 2, 3, 4]);
        pieces.extend(masked(0x80, &[b'x'; 3000], [1, 2, 3, 4]));
        assert_eq!(
            d.decode(&pieces).unwrap_err().code,
            code::TOO_BIG,
            "fragments that add up to more than the most"
        );
    }

    proptest! {
        // The automatic limit (four times the cases) runs out on these nested inputs before
        // their cuts and payloads are shrunk to a case one can read.
        #![proptest_config(ProptestConfig {
            max_shrink_iters: 20_000,
            ..ProptestConfig::default()
        })]

        /// Fragmented messages with pings and pongs between their fragments, and a close at
        /// the end, come out whole and in order however the bytes are cut into reads, each as
        /// soon as its last byte is in.
        #[test]
        fn any_split_of_the_input_decodes_the_same(
            messages in prop::collection::vec(message(), 1..5),
            close in prop::option::of((
                prop::option::of((code(), "\\PC{0,30}")),
                any::<[u8; 4]>(),
            )),
            // Each a frame and an offset in it: near its start, to cut its header and key, or
            // anywhere.
            cuts in prop::collection::vec(
                (any::<prop::sample::Index>(), prop_oneof![0usize..16, any::<usize>()]),
                0..24,
            ),
        ) {
            // Each frame with the message it completes, if it completes one.
            let mut frames = Vec::new();
            let mut max = 0;
            for m in messages {
                let payload = text(&m.seed, m.fragments.iter().map(|f| f.len).sum());
                max = max.max(payload.len());
                let mut rest = payload.as_bytes();
                let last = m.fragments.len() - 1;
                for (i, f) in m.fragments.into_iter().enumerate() {
                    let opcode = match (i, m.text) {
                        (0, true) => TEXT,
                        (0, false) => BINARY,
                        _ => CONTINUATION,
                    };
                    let fin = if i == last { 0x80 } else { 0 };
                    let (now, later) = rest.split_at(f.len);
                    rest = later;
                    let whole = (i == last).then(|| {
                        if m.text {
                            Incoming::Text(payload.clone())
                        } else {
                            Incoming::Binary
                        }
                    });
                    frames.push((masked(fin | opcode, now, f.mask), whole));
                    for (opcode, payload, mask) in f.then {
                        max = max.max(payload.len());
                        let frame = masked(0x80 | opcode, &payload, mask);
                        let message = match opcode {
                            PING => Incoming::Ping(payload),
                            _ => Incoming::Pong(payload),
                        };
                        frames.push((frame, Some(message)));
                    }
                }
            }
            if let Some((sent, mask)) = close {
                let payload = sent.as_ref().map_or_else(Vec::new, |(code, reason)| {
                    [&code.to_be_bytes()[..], reason.as_bytes()].concat()
                });
                max = max.max(payload.len());
                let message = Incoming::Close(sent.map(|(code, _)| code));
                frames.push((masked(0x88, &payload, mask), Some(message)));
            }
            let mut input = Vec::new();
            let mut spans = Vec::new();
            let (mut ends, mut want) = (Vec::new(), Vec::new());
            for (frame, message) in frames {
                let start = input.len();
                input.extend(frame);
                spans.push(start..input.len());
                if let Some(message) = message {
                    ends.push(input.len());
                    want.push(message);
                }
            }
            let mut cuts: Vec<usize> = cuts
                .into_iter()
                .map(|(frame, offset)| {
                    let span = &spans[frame.index(spans.len())];
                    span.start + offset % (span.len() + 1)
                })
                .chain([input.len()])
                .collect();
            cuts.sort_unstable();
            cuts.dedup();
            // As tight as the stream allows: a message or frame of exactly the most is taken.
            let mut d = Decoder::new(max);
            let mut got = Vec::new();
            let mut from = 0;
            for to in cuts {
                got.extend(d.decode(&input[from..to]).unwrap());
                from = to;
                let ready = ends.partition_point(|&end| end <= to);
                prop_assert_eq!(&got[..], &want[..ready]);
            }
            prop_assert!(d.buffer.is_empty());
        }

        /// The encoder writes the frames the RFC lays out, and a client that masks them, as
        /// browsers do, is understood.
        #[test]
        fn server_frames_are_the_rfcs_and_decode_back(
            opcode in prop::sample::select(vec![TEXT, BINARY, PING, PONG, CLOSE]),
            len in length(),
            seed in "\\PC{1,8}",
            code in code(),
            mask in any::<[u8; 4]>(),
        ) {
            // A control frame's payload has at most 125 bytes, two of them a close's code.
            let most = match opcode {
                PING | PONG => 125,
                CLOSE => 123,
                _ => usize::MAX,
            };
            let text = text(&seed, len.min(most));
            let payload = match opcode {
                CLOSE => [&code.to_be_bytes()[..], text.as_bytes()].concat(),
                _ => text.clone().into_bytes(),
            };
            let (framed, want) = match opcode {
                TEXT => (Framed::text(&text), Incoming::Text(text)),
                BINARY => (Framed::new(OpCode::from(BINARY), &payload), Incoming::Binary),
                PING => (
                    Framed::new(OpCode::from(PING), &payload),
                    Incoming::Ping(payload.clone()),
                ),
                PONG => (
                    Framed::new(OpCode::from(PONG), &payload),
                    Incoming::Pong(payload.clone()),
                ),
                _ => (Framed::close(code, &text), Incoming::Close(Some(code))),
            };
            prop_assert_eq!(&framed.bytes()[..], &frame(0x80 | opcode, &payload)[..]);
            prop_assert_eq!(&framed.payload()[..], &payload[..]);
            let client = masking(framed.bytes(), framed.payload().len(), mask);
            prop_assert_eq!(Decoder::new(payload.len()).decode(&client).unwrap(), vec![want]);
        }
    }
}
