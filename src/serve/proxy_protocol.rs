//! Reading a PROXY protocol header (HAProxy's, versions 1 and 2) before
//! HTTP: the client address a load balancer in front (HAProxy
//! `send-proxy`/`send-proxy-v2`, AWS NLB, ...) passes on. Parsed by the `ppp`
//! crate.

use std::io;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use ppp::v1;
use ppp::v2;
use ppp::{HeaderResult, PartialResult};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The largest header read: a v1 header is at most 107 bytes; a v2 header
/// is 16 bytes and its TLVs, which HAProxy keeps well under this unless told
/// to send certificates.
pub(crate) const MAX_HEADER: usize = 4096;

/// What the header said.
#[derive(Debug)]
pub(crate) struct Header {
    /// The client's address, or `None` for a `LOCAL` (health check) or
    /// `UNKNOWN` header, where the connection's own peer stands.
    pub(crate) source: Option<SocketAddr>,
    /// The bytes read past the header: the start of the HTTP request.
    pub(crate) rest: Bytes,
}

/// Reads the header at the start of `stream`. The caller bounds the time.
pub(crate) async fn read(stream: &mut TcpStream) -> io::Result<Header> {
    let mut buf = BytesMut::with_capacity(256);
    loop {
        if buf.len() >= MAX_HEADER {
            return Err(invalid("PROXY protocol header too long"));
        }
        // Never past the bound: the header's end is not known before it
        // is parsed.
        let mut chunk = (&mut *stream).take((MAX_HEADER - buf.len()) as u64);
        if chunk.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a complete PROXY protocol header",
            ));
        }
        let (len, source) = match HeaderResult::parse(&buf) {
            parsed if parsed.is_incomplete() => continue,
            HeaderResult::V1(Ok(header)) => (header.header.len(), v1_source(&header.addresses)),
            HeaderResult::V2(Ok(header)) => (header.len(), v2_source(&header)),
            HeaderResult::V1(Err(error)) => return Err(invalid(error)),
            HeaderResult::V2(Err(error)) => return Err(invalid(error)),
        };
        let rest = buf.split_off(len).freeze();
        return Ok(Header { source, rest });
    }
}

fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

fn v1_source(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some((a.source_address, a.source_port).into()),
        v1::Addresses::Tcp6(a) => Some((a.source_address, a.source_port).into()),
        v1::Addresses::Unknown => None,
    }
}

fn v2_source(header: &v2::Header<'_>) -> Option<SocketAddr> {
    // A LOCAL command is the proxy speaking for itself (health checks).
    if header.command == v2::Command::Local {
        return None;
    }
    match header.addresses {
        v2::Addresses::IPv4(a) => Some((a.source_address, a.source_port).into()),
        v2::Addresses::IPv6(a) => Some((a.source_address, a.source_port).into()),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn read_sent(bytes: Vec<u8>) -> io::Result<Header> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(&bytes).await.unwrap();
            client.shutdown().await.unwrap();
            // Kept open until the server has read.
            let _ = client.read(&mut [0u8; 1]).await;
        });
        let (mut stream, _) = listener.accept().await.unwrap();
        let header = read(&mut stream).await;
        drop(stream);
        client.await.unwrap();
        header
    }

    #[tokio::test]
    async fn v1_gives_the_source_and_keeps_what_follows() {
        let header =
            read_sent(b"PROXY TCP4 192.0.2.7 127.0.0.1 51234 8080\r\nGET / HTTP/1.1\r\n".to_vec())
                .await
                .unwrap();
        assert_eq!(header.source, Some("192.0.2.7:51234".parse().unwrap()));
        assert_eq!(&header.rest[..], b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn v2_gives_the_source_and_keeps_what_follows() {
        let mut bytes = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            (
                "[2001:db8::1]:4000".parse::<SocketAddr>().unwrap(),
                "[::1]:80".parse::<SocketAddr>().unwrap(),
            ),
        )
        .build()
        .unwrap();
        bytes.extend_from_slice(b"PRI * HTTP/2.0\r\n");
        let header = read_sent(bytes).await.unwrap();
        assert_eq!(header.source, Some("[2001:db8::1]:4000".parse().unwrap()));
        assert_eq!(&header.rest[..], b"PRI * HTTP/2.0\r\n");
    }

    #[tokio::test]
    async fn v2_local_keeps_the_peer() {
        let bytes = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Local,
            v2::Protocol::Unspecified,
            v2::Addresses::Unspecified,
        )
        .build()
        .unwrap();
        let header = read_sent(bytes).await.unwrap();
        assert_eq!(header.source, None);
    }

    #[tokio::test]
    async fn plain_http_and_garbage_are_refused() {
        for bytes in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            let error = read_sent(bytes.to_vec()).await.unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::InvalidData,
                "{bytes:?}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn a_header_longer_than_the_bound_is_refused() {
        // v1 has its own bound (107 bytes); v2 declares up to 64 KiB.
        let mut v1 = b"PROXY TCP4 ".to_vec();
        v1.resize(MAX_HEADER * 2, b' ');
        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff".to_vec();
        v2.resize(MAX_HEADER * 2, 0);
        for bytes in [v1, v2] {
            let error = read_sent(bytes).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        }
    }

    #[tokio::test]
    async fn a_header_cut_short_is_an_eof() {
        let error = read_sent(b"PROXY TCP4 192.0.2.7".to_vec())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
    }
}
