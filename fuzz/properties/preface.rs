//! Target `h2c_preface`: arbitrary client bytes after the 101 through the
//! preface splice of `h2c/preface.rs`.
//!
//! Input (binary): a flags byte (bit 0: put the RFC 7540 §3.5 preface in
//! front of the client bytes), the `HTTP2-Settings` entry count (mod 8) and
//! its 6-byte entries, the stream-1 length (one byte) and bytes, a seed for
//! the sizes of the client's reads and one for the server's reads, then the
//! client's bytes.
//!
//! The output is checked against a reference reading: either the client's
//! preface, one SETTINGS frame with the `HTTP2-Settings` values merged in
//! front of the client's own, the stream-1 bytes and the client's bytes
//! after its SETTINGS unchanged; or, for a client that is not speaking
//! HTTP/2, an error and one GOAWAY frame written to it; or, for a client
//! that leaves mid-preface, exactly what it sent. The bytes taken from the
//! client before any reach the server are bounded.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tower_upgrade::__fuzz::{ClientSettings, Preface};

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The most the splice may hold before handing anything on: the preface,
/// one SETTINGS frame of the default maximum size, and one read past it.
const BOUND: usize = 24 + 9 + 16_384 + 4096;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// A tiny deterministic generator for read sizes.
struct Sizes(u32);

impl Sizes {
    fn next(&mut self, max: usize) -> usize {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        if self.0 & 0x300 == 0 {
            max // often a large read
        } else {
            1 + (self.0 >> 16) as usize % max.clamp(1, 64)
        }
    }
}

/// The client's side: hands out `data` in chunks, then the end of the
/// stream; records what is written to it and how much was taken.
struct Client {
    data: Vec<u8>,
    pos: usize,
    sizes: Sizes,
    written: Vec<u8>,
}

impl AsyncRead for Client {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self
            .sizes
            .next(buf.remaining())
            .min(self.data.len() - self.pos);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Client {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

struct Input<'a> {
    settings: ClientSettings,
    stream1: &'a [u8],
    client_seed: u32,
    server_seed: u32,
    client: Vec<u8>,
}

fn decode(data: &[u8]) -> Option<Input<'_>> {
    let (&flags, rest) = data.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let len = usize::from(count % 8) * 6;
    let payload = rest.get(..len)?;
    let rest = &rest[len..];
    let (&stream1_len, rest) = rest.split_first()?;
    let stream1 = rest.get(..usize::from(stream1_len))?;
    let rest = &rest[usize::from(stream1_len)..];
    let [client_seed, server_seed, rest @ ..] = rest else {
        return None;
    };
    let mut client = Vec::with_capacity(rest.len() + 24);
    if flags & 1 == 1 {
        client.extend_from_slice(PREFACE);
    }
    client.extend_from_slice(rest);
    Some(Input {
        settings: ClientSettings::parse(payload).unwrap_or_default(),
        stream1,
        client_seed: u32::from(*client_seed),
        server_seed: u32::from(*server_seed),
        client,
    })
}

/// Runs the splice over one input and checks what the server reads.
pub fn h2c_preface(data: &[u8]) {
    let Some(input) = decode(data) else { return };
    let client = Client {
        data: input.client.clone(),
        pos: 0,
        sizes: Sizes(input.client_seed),
        written: Vec::new(),
    };
    let mut preface = RUNTIME.with(|rt| {
        let _guard = rt.enter();
        Preface::new(
            client,
            input.settings.clone(),
            Bytes::copy_from_slice(input.stream1),
            Duration::from_secs(3600),
        )
    });
    let mut taken_before_output = None;
    let mut sizes = Sizes(input.server_seed);
    let mut out = Vec::new();
    let result = RUNTIME.with(|rt| {
        rt.block_on(async {
            let mut buf = vec![0u8; 20_000];
            loop {
                let want = sizes.next(buf.len());
                let n = preface.read(&mut buf[..want]).await?;
                if n == 0 {
                    return Ok(());
                }
                if out.is_empty() {
                    taken_before_output = Some(preface.get_ref().pos);
                }
                out.extend_from_slice(&buf[..n]);
            }
        })
    });
    let client = preface.get_ref();
    if let Some(taken) = taken_before_output {
        assert!(
            taken <= BOUND,
            "{taken} bytes held before any reached the server"
        );
    }
    check(&input, client, result, &out);
}

fn check(input: &Input<'_>, client: &Client, result: io::Result<()>, out: &[u8]) {
    let sent = &input.client;
    match reference(sent) {
        Reading::Incomplete => {
            result.expect("a client that leaves mid-preface is not an error");
            assert_eq!(out, sent, "what came is handed over unchanged");
            assert!(client.written.is_empty());
        }
        Reading::Invalid => {
            let error = result.expect_err("not HTTP/2");
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert!(out.is_empty(), "nothing reaches the server");
            check_goaway(&client.written, &error.to_string());
        }
        Reading::Settings(end) => {
            result.expect("a valid preface");
            assert!(client.written.is_empty());
            let frame_end = check_settings(input, &sent[24..end], out);
            assert_eq!(
                &out[frame_end..frame_end + input.stream1.len()],
                input.stream1
            );
            assert_eq!(&out[frame_end + input.stream1.len()..], &sent[end..]);
        }
    }
}

enum Reading {
    Incomplete,
    Invalid,
    /// The client's SETTINGS frame ends here.
    Settings(usize),
}

/// RFC 7540 §3.5: the preface, then a SETTINGS frame on stream 0 without
/// ACK, whole 6-byte entries, no larger than the default maximum frame size.
fn reference(sent: &[u8]) -> Reading {
    let n = sent.len().min(24);
    if sent[..n] != PREFACE[..n] {
        return Reading::Invalid;
    }
    let Some(head) = sent.get(24..33) else {
        return Reading::Incomplete;
    };
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let stream = u32::from_be_bytes([head[5] & 0x7f, head[6], head[7], head[8]]);
    if head[3] != 4 || head[4] & 1 != 0 || stream != 0 || len % 6 != 0 || len > 16_384 {
        return Reading::Invalid;
    }
    if sent.len() < 33 + len {
        Reading::Incomplete
    } else {
        Reading::Settings(33 + len)
    }
}

/// The preface and one SETTINGS frame: the `HTTP2-Settings` entries the
/// client does not announce itself, then the client's entries unchanged
/// (or only the client's, when both would not fit one frame). Returns
/// where the frame ends.
fn check_settings(input: &Input<'_>, client_frame: &[u8], out: &[u8]) -> usize {
    assert_eq!(&out[..24], PREFACE);
    let head = &out[24..33];
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    assert_eq!(
        &head[3..],
        [4, 0, 0, 0, 0, 0],
        "SETTINGS, no flags, stream 0"
    );
    assert!(
        len % 6 == 0 && len <= 16_384,
        "a valid SETTINGS length: {len}"
    );
    let payload = &out[33..33 + len];
    let client_entries = &client_frame[9..];
    assert!(
        payload.ends_with(client_entries),
        "the client's entries come last"
    );
    let merged = &payload[..len - client_entries.len()];
    let announced: Vec<u16> = client_entries
        .chunks(6)
        .map(|e| u16::from_be_bytes([e[0], e[1]]))
        .collect();
    let expected: Vec<u8> = input
        .settings
        .iter()
        .filter(|(id, _)| !announced.contains(id))
        .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
        .collect();
    if expected.len() + client_entries.len() <= 16_384 {
        assert_eq!(merged, expected, "HTTP2-Settings merged in front");
    } else {
        assert!(merged.is_empty());
    }
    33 + len
}

/// One GOAWAY (RFC 7540 §6.8): stream 0, last stream 0, PROTOCOL_ERROR,
/// the reason as debug data, and nothing else.
fn check_goaway(written: &[u8], reason: &str) {
    assert!(written.len() >= 17, "a GOAWAY frame: {written:?}");
    let len =
        usize::from(written[0]) << 16 | usize::from(written[1]) << 8 | usize::from(written[2]);
    assert_eq!(written.len(), 9 + len, "exactly one frame");
    assert_eq!(&written[3..9], [7, 0, 0, 0, 0, 0]);
    assert_eq!(&written[9..17], [0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(&written[17..], reason.as_bytes());
}
