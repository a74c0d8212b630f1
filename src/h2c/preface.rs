//! The read side of an upgraded h2c connection as hyper's HTTP/2 server must
//! see it: the client's preface, its first SETTINGS with the
//! `HTTP2-Settings` values merged in, then the upgrade request on stream 1,
//! then whatever the client sends next.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::settings::ClientSettings;
use super::stream1::{frame_header, MAX_FRAME_SIZE, SETTINGS};

/// RFC 7540 §3.5.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
const ACK: u8 = 0x1;
const GOAWAY: u8 = 0x7;
/// RFC 7540 §7.
const PROTOCOL_ERROR: u32 = 0x1;

/// Wraps the upgraded IO. Writes go straight through; reads are rewritten
/// until stream 1 is in, then go straight through as well.
#[derive(Debug)]
pub struct Preface<IO> {
    io: IO,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Gathering the preface and the first frame, until the deadline.
    Reading {
        buf: BytesMut,
        settings: ClientSettings,
        stream1: Bytes,
        deadline: Pin<Box<Sleep>>,
    },
    /// Handing out bytes prepared here, before reading on.
    Replaying(Bytes),
    Passthrough,
    /// Not a valid preface: writing the GOAWAY that says why, after which
    /// reads fail and the server drops the connection.
    Refusing {
        goaway: Bytes,
        reason: &'static str,
    },
}

/// What the bytes gathered so far hold.
enum Parsed {
    NeedMore,
    /// Preface then a SETTINGS frame whose payload ends at this offset.
    Settings(usize),
    /// Not an HTTP/2 client preface, with the reason: a connection error of
    /// type PROTOCOL_ERROR (RFC 7540 §3.5).
    Invalid(&'static str),
}

const NOT_HTTP2: &str = "invalid connection preface";
const NO_SETTINGS: &str = "the connection preface must end with a SETTINGS frame";

/// A GOAWAY frame (RFC 7540 §6.8) with PROTOCOL_ERROR, no stream processed,
/// and `reason` as debug data. §3.5 lets it be left out, since the peer is
/// likely not speaking HTTP/2 at all, but it is what tells whoever debugs
/// the client what went wrong.
fn goaway(reason: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(FRAME_HEADER + 8 + reason.len());
    frame_header(&mut out, 8 + reason.len(), GOAWAY, 0, 0);
    out.put_u32(0);
    out.put_u32(PROTOCOL_ERROR);
    out.put_slice(reason.as_bytes());
    out.freeze()
}

impl<IO> Preface<IO> {
    /// `timeout` bounds the wait for the preface: after the 101 a client
    /// that sends nothing would otherwise hold the connection (and its
    /// place in the connection limits) for good.
    pub fn new(io: IO, settings: ClientSettings, stream1: Bytes, timeout: Duration) -> Self {
        Self {
            io,
            state: State::Reading {
                buf: BytesMut::with_capacity(256),
                settings,
                stream1,
                deadline: Box::pin(tokio::time::sleep(timeout)),
            },
        }
    }
}

impl<IO> Preface<IO> {
    /// The wrapped IO, for the fuzz target's accounting.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

fn parse(buf: &[u8]) -> Parsed {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        return Parsed::Invalid(NOT_HTTP2);
    }
    if buf.len() < PREFACE.len() + FRAME_HEADER {
        return Parsed::NeedMore;
    }
    let head = &buf[PREFACE.len()..PREFACE.len() + FRAME_HEADER];
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    // RFC 7540 §3.5: the preface ends with a SETTINGS frame (not an ACK, on
    // stream 0, whole entries, within the default frame size).
    if head[3] != SETTINGS
        || head[4] & ACK != 0
        || stream != 0
        || len % 6 != 0
        || len > MAX_FRAME_SIZE
    {
        return Parsed::Invalid(NO_SETTINGS);
    }
    let end = PREFACE.len() + FRAME_HEADER + len;
    if buf.len() < end {
        Parsed::NeedMore
    } else {
        Parsed::Settings(end)
    }
}

/// The preface, one SETTINGS frame holding the `HTTP2-Settings` values the
/// client's own frame does not repeat followed by the client's entries, the
/// stream-1 frames, and the rest of what was read.
///
/// RFC 7540 §3.2.1 has the server apply `HTTP2-Settings` without
/// acknowledging it. Merging keeps that: the client sent one SETTINGS frame
/// and gets exactly one ACK (an unexpected ACK is a connection error for
/// nghttp2). Entries apply in order (RFC 7540 §6.5.3), so the client's
/// frame still has the last word, as it would have had.
fn rewrite(mut buf: BytesMut, end: usize, settings: &ClientSettings, stream1: &[u8]) -> Bytes {
    let rest = buf.split_off(end);
    let client = &buf[PREFACE.len() + FRAME_HEADER..];
    let announced = |id: u16| {
        client
            .chunks_exact(6)
            .any(|entry| u16::from_be_bytes([entry[0], entry[1]]) == id)
    };
    let mut merged = BytesMut::with_capacity(64);
    for (id, value) in settings.iter().filter(|(id, _)| !announced(*id)) {
        merged.put_u16(id);
        merged.put_u32(value);
    }
    if merged.len() + client.len() > MAX_FRAME_SIZE {
        // Only a client that announces thousands of entries gets here; its
        // own frame then stands alone rather than overflowing the frame size.
        merged.clear();
    }
    merged.put_slice(client);

    let mut out = BytesMut::with_capacity(end + 64 + stream1.len() + rest.len());
    out.put_slice(PREFACE);
    frame_header(&mut out, merged.len(), SETTINGS, 0, 0);
    out.put_slice(&merged);
    out.put_slice(stream1);
    out.put_slice(&rest);
    out.freeze()
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Preface<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Passthrough => return Pin::new(&mut this.io).poll_read(cx, out),
                // Only reached while h2 reads the preface: its own SETTINGS
                // are flushed by then, so the GOAWAY cannot land inside one
                // of its frames.
                State::Refusing { goaway, reason } => {
                    while !goaway.is_empty() {
                        let n = ready!(Pin::new(&mut this.io).poll_write(cx, goaway))?;
                        if n == 0 {
                            break;
                        }
                        goaway.advance(n);
                    }
                    ready!(Pin::new(&mut this.io).poll_flush(cx))?;
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, *reason)));
                }
                State::Replaying(bytes) => {
                    let n = bytes.len().min(out.remaining());
                    out.put_slice(&bytes[..n]);
                    bytes.advance(n);
                    if bytes.is_empty() {
                        this.state = State::Passthrough;
                    }
                    return Poll::Ready(Ok(()));
                }
                State::Reading {
                    buf,
                    settings,
                    stream1,
                    deadline,
                } => match parse(buf) {
                    Parsed::Settings(end) => {
                        let buf = std::mem::take(buf);
                        this.state = State::Replaying(rewrite(buf, end, settings, stream1));
                    }
                    Parsed::Invalid(reason) => {
                        this.state = State::Refusing {
                            goaway: goaway(reason),
                            reason,
                        };
                    }
                    Parsed::NeedMore => {
                        if deadline.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "no HTTP/2 preface in time after the switch",
                            )));
                        }
                        let mut chunk = [0u8; 4096];
                        let mut read = ReadBuf::new(&mut chunk);
                        ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
                        if read.filled().is_empty() {
                            // The client left mid-preface: hand over what came,
                            // then the end of the stream.
                            let buf = std::mem::take(buf).freeze();
                            this.state = if buf.is_empty() {
                                State::Passthrough
                            } else {
                                State::Replaying(buf)
                            };
                            continue;
                        }
                        buf.extend_from_slice(read.filled());
                    }
                },
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Preface<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn settings_frame(entries: &[(u16, u32)]) -> Vec<u8> {
        let mut out = BytesMut::new();
        frame_header(&mut out, entries.len() * 6, SETTINGS, 0, 0);
        for (id, value) in entries {
            out.put_u16(*id);
            out.put_u32(*value);
        }
        out.to_vec()
    }

    async fn through(chunks: &[&[u8]], settings: &[(u16, u32)], stream1: &[u8]) -> Vec<u8> {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let payload: Vec<u8> = settings
            .iter()
            .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
            .collect();
        let settings = ClientSettings::parse(&payload).unwrap();
        let mut preface = Preface::new(
            server,
            settings,
            Bytes::copy_from_slice(stream1),
            Duration::from_secs(3600),
        );
        for chunk in chunks {
            client.write_all(chunk).await.unwrap();
            tokio::task::yield_now().await;
        }
        drop(client);
        let mut out = Vec::new();
        preface.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn settings_are_merged_and_stream1_follows_byte_by_byte() {
        let mut sent = PREFACE.to_vec();
        sent.extend(settings_frame(&[(3, 100), (4, 1000)]));
        sent.extend(b"NEXT");
        let one_by_one: Vec<&[u8]> = sent.chunks(1).collect();
        let out = through(&one_by_one, &[(4, 5), (1, 0), (2, 0)], b"STREAM1").await;

        let mut expected = PREFACE.to_vec();
        expected.extend(settings_frame(&[(1, 0), (2, 0), (3, 100), (4, 1000)]));
        expected.extend(b"STREAM1NEXT");
        assert_eq!(out, expected);
    }

    #[tokio::test]
    async fn a_bad_preface_gets_a_goaway_that_says_why() {
        let cases: [(&[u8], &str); 4] = [
            (b"GET / HTTP/1.1\r\n\r\n", NOT_HTTP2),
            // A WINDOW_UPDATE, a SETTINGS ACK, and a SETTINGS frame whose
            // length is not whole entries, where the SETTINGS frame belongs.
            (
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x08\x00\x00\x00\x00\x00",
                NO_SETTINGS,
            ),
            (
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x01\x00\x00\x00\x00",
                NO_SETTINGS,
            ),
            (
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x05\x04\x00\x00\x00\x00\x00xxxxx",
                NO_SETTINGS,
            ),
        ];
        for (sent, reason) in cases {
            let (mut client, server) = tokio::io::duplex(1 << 16);
            let mut preface = Preface::new(
                server,
                ClientSettings::default(),
                Bytes::from_static(b"STREAM1"),
                Duration::from_secs(3600),
            );
            client.write_all(sent).await.unwrap();
            let mut out = Vec::new();
            let error = preface.read_to_end(&mut out).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert!(out.is_empty(), "nothing reaches the server: {out:?}");
            drop(preface);
            let mut seen = Vec::new();
            client.read_to_end(&mut seen).await.unwrap();
            assert_eq!(&seen[..], &goaway(reason)[..]);
            assert_eq!(&seen[3..5], [GOAWAY, 0]);
            assert_eq!(&seen[9..17], [0, 0, 0, 0, 0, 0, 0, 1]);
            assert_eq!(&seen[17..], reason.as_bytes());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_sends_no_preface_times_out() {
        let (_client, server) = tokio::io::duplex(64);
        let mut preface = Preface::new(
            server,
            ClientSettings::default(),
            Bytes::new(),
            Duration::from_secs(10),
        );
        let mut out = Vec::new();
        let error = preface.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_client_that_leaves_mid_preface_ends_the_stream() {
        assert_eq!(through(&[b"PRI * HT"], &[], b"S").await, b"PRI * HT");
        assert_eq!(through(&[], &[], b"S").await, b"");
    }
}
