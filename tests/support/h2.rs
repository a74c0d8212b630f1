//! A small HTTP/2 client written for these tests and the h2c benchmark: it
//! can take over a connection after `101 Switching Protocols` and read the
//! response on stream 1, which no Rust HTTP/2 client can (hyperium/h2#220).
//! It checks flow control as it goes: the server never has more data in
//! flight on a stream than the window the client granted.

#![allow(dead_code)]

use std::collections::HashMap;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

pub const INITIAL_WINDOW_SIZE: u16 = 0x4;

#[derive(Debug)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: BytesMut,
}

#[derive(Debug, Default)]
pub struct Stream {
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
    pub done: bool,
    pub reset: Option<u32>,
    /// Bytes received minus WINDOW_UPDATEs sent for this stream.
    outstanding: u64,
}

impl Stream {
    pub fn status(&self) -> u16 {
        self.header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Client<IO> {
    io: IO,
    buf: BytesMut,
    decoder: loona_hpack::Decoder<'static>,
    next_stream: u32,
    /// The stream window the client announced (65,535 unless changed).
    pub window: u64,
    /// Whether the client gives a stream's window back as data arrives, or
    /// only once it is used up.
    pub auto_window: bool,
    pub streams: HashMap<u32, Stream>,
    pub settings_acks: usize,
    pub server_settings: usize,
    pub goaway: Option<(u32, u32)>,
    pending_block: Option<(u32, u8, BytesMut)>,
}

/// Reads the response head after an HTTP/1.1 request; returns the status
/// and the bytes read past the head.
pub async fn read_head<IO: AsyncRead + Unpin>(io: &mut IO) -> (u16, String, BytesMut) {
    let mut buf = BytesMut::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.advance(end + 4);
            let status = head[9..12].parse().unwrap();
            return (status, head, buf);
        }
        let n = io.read_buf(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the response head: {buf:?}");
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Client<IO> {
    /// Sends `request` (a raw HTTP/1.1 upgrade request), expects `101`, then
    /// sends the preface and a SETTINGS frame with `settings`.
    pub async fn upgrade(mut io: IO, request: &[u8], settings: &[(u16, u32)]) -> Self {
        io.write_all(request).await.unwrap();
        let (status, head, rest) = read_head(&mut io).await;
        assert_eq!(status, 101, "expected a switch, got:\n{head}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("\r\nupgrade: h2c"), "{head}");
        assert!(head.contains("\r\nconnection: upgrade"), "{head}");
        let mut client = Self::new(io, 3);
        client.buf = rest;
        client.preface(settings).await;
        client
    }

    /// Prior knowledge: the preface straight away; streams start at 1.
    pub async fn prior_knowledge(io: IO, settings: &[(u16, u32)]) -> Self {
        let mut client = Self::new(io, 1);
        client.preface(settings).await;
        client
    }

    fn new(io: IO, next_stream: u32) -> Self {
        Self {
            io,
            buf: BytesMut::new(),
            decoder: loona_hpack::Decoder::new(),
            next_stream,
            window: 65_535,
            auto_window: true,
            streams: HashMap::new(),
            settings_acks: 0,
            server_settings: 0,
            goaway: None,
            pending_block: None,
        }
    }

    async fn preface(&mut self, settings: &[(u16, u32)]) {
        let mut out = BytesMut::from(PREFACE);
        let mut payload = BytesMut::new();
        for (id, value) in settings {
            payload.put_u16(*id);
            payload.put_u32(*value);
            if *id == INITIAL_WINDOW_SIZE {
                self.window = u64::from(*value);
            }
        }
        frame(&mut out, SETTINGS, 0, 0, &payload);
        self.io.write_all(&out).await.unwrap();
    }

    /// The stream window in force when the client's own SETTINGS do not
    /// name one (set from `HTTP2-Settings`).
    pub fn assume_window(&mut self, window: u64) {
        self.window = window;
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// Sends a request on the next stream and returns its id.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> u32 {
        let id = self.next_stream;
        self.next_stream += 2;
        let mut fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", method.as_bytes()),
            (b":scheme", b"http"),
            (b":authority", b"localhost"),
            (b":path", path.as_bytes()),
        ];
        fields.extend(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
        // Literals without indexing: the encoder side needs no table here.
        let mut block = BytesMut::new();
        for (name, value) in fields {
            block.put_u8(0);
            hpack_string(&mut block, name);
            hpack_string(&mut block, value);
        }
        let mut out = BytesMut::new();
        let flags = END_HEADERS | if body.is_empty() { END_STREAM } else { 0 };
        frame(&mut out, HEADERS, flags, id, &block);
        let chunks: Vec<&[u8]> = body.chunks(16_384).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let flags = if i + 1 == chunks.len() { END_STREAM } else { 0 };
            frame(&mut out, DATA, flags, id, chunk);
        }
        self.io.write_all(&out).await.unwrap();
        self.streams.entry(id).or_default();
        id
    }

    /// Reads one frame, or `None` at the end of the connection.
    pub async fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let head = self.buf.split_to(9);
                    let payload = self.buf.split_to(len);
                    return Some(Frame {
                        kind: head[3],
                        flags: head[4],
                        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]])
                            & 0x7fff_ffff,
                        payload,
                    });
                }
            }
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads and handles frames until `done` holds; false when the
    /// connection ended first.
    pub async fn run_until(&mut self, mut done: impl FnMut(&Self) -> bool) -> bool {
        while !done(self) {
            let Some(frame) = self.read_frame().await else {
                return false;
            };
            self.handle(frame).await;
        }
        true
    }

    /// Reads until stream `id` ends (END_STREAM or RST_STREAM).
    pub async fn wait(&mut self, id: u32) -> &Stream {
        let ended = self
            .run_until(|c| c.streams.get(&id).is_some_and(|s| s.done))
            .await;
        assert!(ended, "connection closed before stream {id} ended");
        &self.streams[&id]
    }

    /// Reads until the server closes the connection.
    pub async fn wait_closed(&mut self) {
        while let Some(frame) = self.read_frame().await {
            self.handle(frame).await;
        }
    }

    async fn handle(&mut self, f: Frame) {
        match f.kind {
            SETTINGS if f.flags & ACK != 0 => self.settings_acks += 1,
            SETTINGS => {
                self.server_settings += 1;
                let mut out = BytesMut::new();
                frame(&mut out, SETTINGS, ACK, 0, &[]);
                // The server may have closed already; reads tell the story.
                let _ = self.io.write_all(&out).await;
            }
            PING if f.flags & ACK == 0 => {
                let mut out = BytesMut::new();
                frame(&mut out, PING, ACK, 0, &f.payload);
                // The server may have closed already; reads tell the story.
                let _ = self.io.write_all(&out).await;
            }
            GOAWAY => {
                let p = &f.payload;
                let last = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                let code = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                self.goaway = Some((last, code));
            }
            RST_STREAM => {
                let p = &f.payload;
                let stream = self.streams.entry(f.stream).or_default();
                stream.reset = Some(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
                stream.done = true;
            }
            HEADERS | CONTINUATION => {
                let mut payload = f.payload;
                if f.kind == HEADERS {
                    // PADDED and PRIORITY are never set by h2's server, but
                    // strip them to be exact.
                    let mut pad = 0;
                    if f.flags & 0x8 != 0 {
                        pad = payload[0] as usize;
                        payload.advance(1);
                    }
                    if f.flags & 0x20 != 0 {
                        payload.advance(5);
                    }
                    payload.truncate(payload.len() - pad);
                    self.pending_block = Some((f.stream, f.flags, BytesMut::new()));
                }
                let (stream, flags, mut block) = self
                    .pending_block
                    .take()
                    .expect("CONTINUATION without HEADERS");
                block.extend_from_slice(&payload);
                if f.flags & END_HEADERS == 0 {
                    self.pending_block = Some((stream, flags, block));
                    return;
                }
                let decoded = self
                    .decoder
                    .decode(&block)
                    .expect("the server's HPACK block decodes");
                let entry = self.streams.entry(stream).or_default();
                entry.headers.extend(
                    decoded.into_iter().map(|(n, v)| {
                        (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap())
                    }),
                );
                if flags & END_STREAM != 0 {
                    entry.done = true;
                }
            }
            DATA => {
                let len = f.payload.len() as u64;
                let window = self.window;
                let entry = self.streams.entry(f.stream).or_default();
                entry.outstanding += len;
                assert!(
                    entry.outstanding <= window,
                    "stream {}: {} bytes in flight past a window of {window}",
                    f.stream,
                    entry.outstanding
                );
                entry.data.extend_from_slice(&f.payload);
                if f.flags & END_STREAM != 0 {
                    entry.done = true;
                }
                if len == 0 {
                    return;
                }
                let mut out = BytesMut::new();
                frame(&mut out, WINDOW_UPDATE, 0, 0, &(len as u32).to_be_bytes());
                // Either give back each frame's bytes at once, or only when
                // the window is used up: then a server that sent past the
                // window would trip the assertion above.
                let grant = if self.auto_window {
                    len
                } else if entry.outstanding == window {
                    window
                } else {
                    0
                };
                if grant > 0 && !entry.done {
                    entry.outstanding -= grant;
                    frame(
                        &mut out,
                        WINDOW_UPDATE,
                        0,
                        f.stream,
                        &(grant as u32).to_be_bytes(),
                    );
                }
                // The server may have closed already; reads tell the story.
                let _ = self.io.write_all(&out).await;
            }
            _ => {}
        }
    }

    pub fn into_inner(self) -> IO {
        self.io
    }
}

pub fn frame(out: &mut BytesMut, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.put_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.put_u8(kind);
    out.put_u8(flags);
    out.put_u32(stream);
    out.put_slice(payload);
}

fn hpack_string(block: &mut BytesMut, s: &[u8]) {
    // RFC 7541 §5.1 with a 7-bit prefix, H = 0.
    let mut len = s.len();
    if len < 127 {
        block.put_u8(len as u8);
    } else {
        block.put_u8(127);
        len -= 127;
        while len >= 128 {
            block.put_u8((len % 128 + 128) as u8);
            len /= 128;
        }
        block.put_u8(len as u8);
    }
    block.put_slice(s);
}

/// `HTTP2-Settings` for `settings`: base64url without padding.
pub fn http2_settings(settings: &[(u16, u32)]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes: Vec<u8> = settings
        .iter()
        .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
        .collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A raw HTTP/1.1 h2c upgrade request.
pub fn upgrade_request(
    method: &str,
    target: &str,
    settings: &[(u16, u32)],
    body: &[u8],
) -> Vec<u8> {
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n\
         Upgrade: h2c\r\nHTTP2-Settings: {}\r\nContent-Length: {}\r\n\r\n",
        http2_settings(settings),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}
