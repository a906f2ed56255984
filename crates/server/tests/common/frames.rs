//! A small raw HTTP/2 client for conformance tests: frames built byte by byte (RFC 9113 §4.1),
//! header blocks as HPACK literals (RFC 7541 §6.2, no Huffman, no dynamic table unless a test
//! writes one by hand), and a reader that reports what the server did about a stream.
//!
//! Deliberately unchecked: it writes whatever a test asks, malformed frames included. That is
//! what a client library (h2, hyper) refuses to do.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Frame types (RFC 9113 §6).
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

// Flags.
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

// Error codes (RFC 9113 §7).
pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const STREAM_CLOSED: u32 = 0x5;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const REFUSED_STREAM: u32 = 0x7;
pub const CANCEL: u32 = 0x8;
pub const COMPRESSION_ERROR: u32 = 0x9;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

// Settings identifiers (RFC 9113 §6.5.2).
pub const HEADER_TABLE_SIZE: u16 = 0x1;
pub const ENABLE_PUSH: u16 = 0x2;
pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const MAX_FRAME_SIZE: u16 = 0x5;

/// One frame: the 9-byte header (24-bit length, type, flags, 31-bit stream id) and `payload`.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A SETTINGS frame with these `(identifier, value)` pairs.
pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (id, value) in pairs {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &payload)
}

/// A WINDOW_UPDATE frame.
pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

/// An RST_STREAM frame.
pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// An HPACK integer (RFC 7541 §5.1) with an `n`-bit prefix, `high` the bits above it.
pub fn integer(n: u32, high: u8, value: usize) -> Vec<u8> {
    let max = (1usize << n) - 1;
    if value < max {
        return vec![high | value as u8];
    }
    let mut out = vec![high | max as u8];
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
    out
}

/// A string literal, not Huffman-coded (RFC 7541 §5.2).
pub fn string(s: &[u8]) -> Vec<u8> {
    let mut out = integer(7, 0, s.len());
    out.extend_from_slice(s);
    out
}

/// "Literal Header Field without Indexing — New Name" (RFC 7541 §6.2.2) for each field.
pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        out.extend(string(name.as_bytes()));
        out.extend(string(value.as_bytes()));
    }
    out
}

/// The header block of a plain request: `method` `path`, scheme `http`, authority `localhost`,
/// then `extra`.
pub fn request(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", method),
        (":scheme", "http"),
        (":authority", "localhost"),
        (":path", path),
    ];
    fields.extend_from_slice(extra);
    block(&fields)
}

/// A HEADERS frame carrying `block` whole (END_HEADERS), ending the stream if `end`.
pub fn headers(stream: u32, block: &[u8], end: bool) -> Vec<u8> {
    let flags = END_HEADERS | if end { END_STREAM } else { 0 };
    frame(HEADERS, flags, stream, block)
}

/// `GET /` on `stream`, ending it.
pub fn get(stream: u32) -> Vec<u8> {
    headers(stream, &request("GET", "/", &[]), true)
}

/// A frame as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// What the server did about a stream (or the connection) after a test's frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Response HEADERS on the stream; the status when [`status`] can read it.
    Response(Option<u16>),
    /// RST_STREAM on the stream, with its error code.
    Reset(u32),
    /// GOAWAY, with its error code.
    GoAway(u32),
    /// The connection ended with no GOAWAY.
    Closed,
    /// Nothing about the stream within the read limit.
    Silent,
}

impl Outcome {
    /// A connection error: GOAWAY with an error, or closed.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Outcome::GoAway(code) if *code != NO_ERROR) || *self == Outcome::Closed
    }

    /// The stream or the connection was refused (any RST_STREAM, GOAWAY with an error, close).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Outcome::Reset(_)) || self.is_connection_error()
    }
}

/// A raw HTTP/2 connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Every frame read so far, for tests that look back (PING ACKs, SETTINGS).
    pub seen: Vec<Frame>,
    /// The server closed the connection (EOF or a reset), as opposed to a read timing out.
    pub closed: bool,
}

impl Conn {
    /// Connects and sends `preface` as the first bytes, nothing else.
    pub async fn raw(addr: SocketAddr, preface: &[u8]) -> Conn {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.write_all(preface).await.expect("preface");
        Conn {
            stream,
            buf: Vec::new(),
            seen: Vec::new(),
            closed: false,
        }
    }

    /// The preface and an empty SETTINGS, then waits for the server's SETTINGS and ACKs them:
    /// a connection ready for requests.
    pub async fn open(addr: SocketAddr) -> Conn {
        Conn::open_with(addr, &settings(&[])).await
    }

    /// As [`Conn::open`], with `first` as the client's SETTINGS frame.
    pub async fn open_with(addr: SocketAddr, first: &[u8]) -> Conn {
        let mut preface = PREFACE.to_vec();
        preface.extend_from_slice(first);
        let mut conn = Conn::raw(addr, &preface).await;
        loop {
            let frame = conn
                .read(Duration::from_secs(5))
                .await
                .expect("the server's SETTINGS");
            if frame.kind == SETTINGS && frame.flags & ACK == 0 {
                break;
            }
        }
        conn.send(&frame(SETTINGS, ACK, 0, &[])).await;
        conn
    }

    /// Writes `bytes`; a write error (the server closed) is left for the reads to see.
    pub async fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Writes `bytes`, saying whether the server still took them.
    pub async fn send_checked(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next frame, or `None` at EOF, on a read error, or after `limit` of silence.
    pub async fn read(&mut self, limit: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let frame = Frame {
                        kind: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes(self.buf[5..9].try_into().unwrap())
                            & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    self.seen.push(frame.clone());
                    return Some(frame);
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                Ok(_) => {
                    self.closed = true;
                    return None;
                }
                Err(_elapsed) => return None,
            }
        }
    }

    /// Reads until the server says something about `stream` (HEADERS or RST_STREAM on it) or
    /// the connection (GOAWAY, close), at most 5 s; other frames are skipped (and kept in
    /// [`Conn::seen`]).
    pub async fn outcome(&mut self, stream: u32) -> Outcome {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(frame) = self.read(left).await else {
                return if self.closed {
                    Outcome::Closed
                } else {
                    Outcome::Silent
                };
            };
            match frame.kind {
                GOAWAY if frame.payload.len() >= 8 => {
                    let code = u32::from_be_bytes(frame.payload[4..8].try_into().unwrap());
                    return Outcome::GoAway(code);
                }
                RST_STREAM if frame.stream == stream && frame.payload.len() == 4 => {
                    let code = u32::from_be_bytes(frame.payload[..4].try_into().unwrap());
                    return Outcome::Reset(code);
                }
                HEADERS if frame.stream == stream => {
                    return Outcome::Response(status(&frame.payload));
                }
                _ => {}
            }
        }
    }

    /// Reads until the connection ends, at most `limit`: the GOAWAY code if one came, and
    /// whether it ended at all (`false`: still open at the limit).
    pub async fn until_closed(&mut self, limit: Duration) -> (Option<u32>, bool) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut goaway = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read(left).await {
                Some(frame) if frame.kind == GOAWAY && frame.payload.len() >= 8 => {
                    goaway = Some(u32::from_be_bytes(frame.payload[4..8].try_into().unwrap()));
                }
                Some(_) => {}
                None => return (goaway, self.closed),
            }
        }
    }
}

/// The `:status` of a response header block, when it is the block's first field and encoded
/// as h2 does: indexed from the static table (200, 204, 206, 304, 400, 404, 500), or a literal
/// with the static `:status` name and a plain or Huffman-coded three-digit value.
pub fn status(mut block: &[u8]) -> Option<u16> {
    // Dynamic table size updates (001xxxxx, RFC 7541 §6.3) may come first.
    while let Some(&b) = block.first() {
        if b & 0xe0 != 0x20 {
            break;
        }
        let mut len = 1;
        if b & 0x1f == 0x1f {
            while block.get(len)? & 0x80 != 0 {
                len += 1;
            }
            len += 1;
        }
        block = &block[len..];
    }
    let first = *block.first()?;
    let indexed = [200, 204, 206, 304, 400, 404, 500];
    if (0x88..=0x8e).contains(&first) {
        return Some(indexed[usize::from(first - 0x88)]);
    }
    // Literal with incremental indexing (01xxxxxx), without (0000xxxx) or never (0001xxxx),
    // name index 8..=14 (all `:status`).
    let name = if first & 0xc0 == 0x40 {
        first & 0x3f
    } else {
        first & 0x0f
    };
    if !(8..=14).contains(&name) || first & 0x80 != 0 {
        return None;
    }
    let len_byte = *block.get(1)?;
    let len = usize::from(len_byte & 0x7f);
    let value = block.get(2..2 + len)?;
    let digits = if len_byte & 0x80 == 0 {
        std::str::from_utf8(value).ok()?.to_owned()
    } else {
        huffman_digits(value)?
    };
    digits.parse().ok()
}

/// Decodes a Huffman-coded string of digits (RFC 7541 Appendix B: '0'..'2' are 5 bits,
/// '3'..'9' 6 bits), padding of ones at the end.
fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i < bits.len() {
        let take = |n: usize| -> Option<u32> {
            let slice = bits.get(i..i + n)?;
            Some(slice.iter().fold(0u32, |acc, &b| acc << 1 | u32::from(b)))
        };
        if bits[i..].iter().all(|&b| b == 1) {
            break; // padding
        }
        if let code @ 0..=2 = take(5)? {
            out.push(char::from(b'0' + code as u8));
            i += 5;
            continue;
        }
        match take(6)? {
            code @ 0x19..=0x1f => {
                out.push(char::from(b'3' + (code - 0x19) as u8));
                i += 6;
            }
            _ => return None,
        }
    }
    Some(out)
}
