//! The upgrade request as HTTP/2 frames on stream 1 (RFC 7540 §3.2: "The
//! HTTP/1.1 request that is sent prior to upgrade is assigned a stream
//! identifier of 1 ... and is half-closed from the client's side").

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONNECTION, EXPECT, HOST, TE};
use http::request::Parts;
use http::{HeaderName, Method};

use crate::detect::list_items;

/// The smallest SETTINGS_MAX_FRAME_SIZE a peer may announce (RFC 7540
/// §4.2), and h2's default: every frame written here fits it.
pub(crate) const MAX_FRAME_SIZE: usize = 16_384;

/// The connection-level and stream-level window every HTTP/2 receiver
/// starts with (RFC 7540 §6.9.2). The server's own settings only apply once
/// the client acknowledges them, so this is all the body stream 1 may carry.
pub(crate) const INITIAL_WINDOW: usize = 65_535;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
pub(crate) const SETTINGS: u8 = 0x4;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// The most `Connection` tokens an h2c upgrade may list; past it the
/// upgrade is declined and the request answered over HTTP/1.1. A real
/// client lists two or three (`Upgrade, HTTP2-Settings`); each one names a
/// field to leave out of stream 1, so the bound also bounds that work.
pub(crate) const MAX_CONNECTION_TOKENS: usize = 32;

/// Connection-specific fields that HTTP/2 forbids (RFC 9113 §8.2.2); h2
/// refuses a request that carries one.
const CONNECTION_SPECIFIC: [&str; 6] = [
    "connection",
    "upgrade",
    "http2-settings",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
];

/// The frames that carry `parts` and `body` as the request of stream 1:
/// HEADERS (and CONTINUATION when the block is large), then DATA, with
/// END_STREAM on the last frame.
pub(crate) fn request_frames(parts: &Parts, body: &[u8]) -> Bytes {
    let block = header_block(parts);
    let mut out = BytesMut::with_capacity(block.len() + body.len() + 9 * 4);
    let mut chunks = block.chunks(MAX_FRAME_SIZE).peekable();
    let mut kind = HEADERS;
    // An empty block still needs its HEADERS frame.
    let first = chunks.next().unwrap_or_default();
    let mut chunk = first;
    loop {
        let last = chunks.peek().is_none();
        let mut flags = if last { END_HEADERS } else { 0 };
        if kind == HEADERS && body.is_empty() {
            flags |= END_STREAM;
        }
        frame_header(&mut out, chunk.len(), kind, flags, 1);
        out.put_slice(chunk);
        match chunks.next() {
            Some(next) => {
                chunk = next;
                kind = CONTINUATION;
            }
            None => break,
        }
    }
    let count = body.chunks(MAX_FRAME_SIZE).count();
    for (i, chunk) in body.chunks(MAX_FRAME_SIZE).enumerate() {
        let flags = if i + 1 == count { END_STREAM } else { 0 };
        frame_header(&mut out, chunk.len(), DATA, flags, 1);
        out.put_slice(chunk);
    }
    out.freeze()
}

/// A frame's 9-byte header (RFC 7540 §4.1).
pub(crate) fn frame_header(out: &mut BytesMut, len: usize, kind: u8, flags: u8, stream: u32) {
    debug_assert!(len < 1 << 24);
    out.put_slice(&(len as u32).to_be_bytes()[1..]);
    out.put_u8(kind);
    out.put_u8(flags);
    out.put_u32(stream & 0x7fff_ffff);
}

/// The request head as an HPACK block of literals "without indexing" (RFC
/// 7541 §6.2.2): they leave the decoder's dynamic table as it was, so the
/// client's own encoder, which never saw this block, stays in step with the
/// server's decoder.
fn header_block(parts: &Parts) -> BytesMut {
    let mut block = BytesMut::new();
    literal(&mut block, b":method", parts.method.as_str().as_bytes());
    literal(&mut block, b":scheme", b"http");
    // RFC 9113 §8.3.1: `:authority` carries what Host did; an absolute-form
    // target names it instead.
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().as_bytes())
        .or_else(|| parts.headers.get(HOST).map(|h| h.as_bytes()));
    if let Some(authority) = authority {
        literal(&mut block, b":authority", authority);
    }
    // `OPTIONS *` keeps its asterisk (RFC 9113 §8.3.1).
    let path = match parts.uri.path_and_query() {
        Some(pq) => pq.as_str(),
        None if parts.method == Method::OPTIONS => "*",
        None => "/",
    };
    literal(&mut block, b":path", path.as_bytes());
    // Read once, not once per header: `Check` declines a request whose
    // Connection lists more than `MAX_CONNECTION_TOKENS`, so this is short.
    let named: Vec<&str> = list_items(&parts.headers, CONNECTION)
        .take(MAX_CONNECTION_TOKENS)
        .collect();
    for (name, value) in &parts.headers {
        if is_connection_specific(&named, name) {
            continue;
        }
        // RFC 9113 §8.2.2: TE may only say "trailers".
        if name == TE && !value.as_bytes().eq_ignore_ascii_case(b"trailers") {
            continue;
        }
        // The body is all here; `100 Continue` went out over HTTP/1.1 when
        // it was read, and asking again would have hyper send a second one
        // on stream 1.
        if name == EXPECT {
            continue;
        }
        literal(&mut block, name.as_str().as_bytes(), value.as_bytes());
    }
    block
}

/// Host moves to `:authority`; the rest are hop-by-hop: the fixed list and
/// whatever `Connection` names (`named`, RFC 9110 §7.6.1).
fn is_connection_specific(named: &[&str], name: &HeaderName) -> bool {
    name == HOST
        || CONNECTION_SPECIFIC.contains(&name.as_str())
        || named
            .iter()
            .any(|item| name.as_str().eq_ignore_ascii_case(item))
}

/// RFC 7541 §6.2.2, new name: `0000 0000`, then name and value as plain
/// (not Huffman-coded) strings.
fn literal(block: &mut BytesMut, name: &[u8], value: &[u8]) {
    block.put_u8(0);
    string(block, name);
    string(block, value);
}

/// RFC 7541 §5.2 with H = 0, the length an integer with a 7-bit prefix.
fn string(block: &mut BytesMut, s: &[u8]) {
    integer(block, s.len(), 7, 0);
    block.put_slice(s);
}

/// RFC 7541 §5.1.
fn integer(block: &mut BytesMut, mut value: usize, prefix_bits: u8, first: u8) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        block.put_u8(first | value as u8);
        return;
    }
    block.put_u8(first | max as u8);
    value -= max;
    while value >= 128 {
        block.put_u8((value % 128 + 128) as u8);
        value /= 128;
    }
    block.put_u8(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    struct Frame {
        kind: u8,
        flags: u8,
        stream: u32,
        payload: Vec<u8>,
    }

    fn frames(mut bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let len = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]) as usize;
            out.push(Frame {
                kind: bytes[3],
                flags: bytes[4],
                stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]),
                payload: bytes[9..9 + len].to_vec(),
            });
            bytes = &bytes[9 + len..];
        }
        out
    }

    fn decode(block: &[u8]) -> Vec<(String, String)> {
        let mut decoder = loona_hpack::Decoder::new();
        decoder
            .decode(block)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn headers_are_translated_and_hop_by_hop_fields_dropped() {
        let (parts, ()) = Request::post("/echo?x=1")
            .header("host", "example.com:3000")
            .header("connection", "Upgrade, HTTP2-Settings, x-hop")
            .header("upgrade", "h2c")
            .header("http2-settings", "AAMAAABkAAQAAP__")
            .header("keep-alive", "timeout=5")
            .header("x-hop", "1")
            .header("te", "gzip")
            .header("expect", "100-continue")
            .header("content-length", "5")
            .header("accept", "*/*")
            .body(())
            .unwrap()
            .into_parts();
        let bytes = request_frames(&parts, b"hello");
        let frames = frames(&bytes);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            (frames[0].kind, frames[0].flags, frames[0].stream),
            (HEADERS, END_HEADERS, 1)
        );
        assert_eq!(
            (frames[1].kind, frames[1].flags, frames[1].stream),
            (DATA, END_STREAM, 1)
        );
        assert_eq!(frames[1].payload, b"hello");
        let headers = decode(&frames[0].payload);
        let expected = [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "example.com:3000"),
            (":path", "/echo?x=1"),
            ("content-length", "5"),
            ("accept", "*/*"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(headers, expected);
    }

    #[test]
    fn options_asterisk_and_te_trailers() {
        let (parts, ()) = Request::options("*")
            .header("host", "h")
            .header("te", "trailers")
            .body(())
            .unwrap()
            .into_parts();
        let bytes = request_frames(&parts, b"");
        let frames = frames(&bytes);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].flags, END_HEADERS | END_STREAM);
        let headers = decode(&frames[0].payload);
        assert!(
            headers.contains(&(":path".into(), "*".into())),
            "{headers:?}"
        );
        assert!(headers.contains(&("te".into(), "trailers".into())));
    }

    #[test]
    fn large_blocks_and_bodies_are_split_at_the_frame_size() {
        let big = "v".repeat(20_000);
        let (parts, ()) = Request::put("/")
            .header("host", "h")
            .header("x-big", big.as_str())
            .body(())
            .unwrap()
            .into_parts();
        let body = vec![7u8; MAX_FRAME_SIZE * 2 + 1];
        let bytes = request_frames(&parts, &body);
        let frames = frames(&bytes);
        let kinds: Vec<(u8, u8)> = frames.iter().map(|f| (f.kind, f.flags)).collect();
        assert_eq!(
            kinds,
            [
                (HEADERS, 0),
                (CONTINUATION, END_HEADERS),
                (DATA, 0),
                (DATA, 0),
                (DATA, END_STREAM)
            ]
        );
        assert!(frames
            .iter()
            .all(|f| f.payload.len() <= MAX_FRAME_SIZE && f.stream == 1));
        let block: Vec<u8> = frames[..2].iter().flat_map(|f| f.payload.clone()).collect();
        assert!(decode(&block).contains(&("x-big".into(), big)));
        let data: Vec<u8> = frames[2..].iter().flat_map(|f| f.payload.clone()).collect();
        assert_eq!(data, body);
    }

    #[test]
    fn integers_use_continuation_bytes() {
        // RFC 7541 §C.1.2: 1337 with a 5-bit prefix.
        let mut block = BytesMut::new();
        integer(&mut block, 1337, 5, 0);
        assert_eq!(&block[..], [31, 154, 10]);
    }
}
