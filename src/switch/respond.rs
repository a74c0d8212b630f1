//! The response that switches: `101` over HTTP/1.1, `200` to an extended
//! CONNECT.

use bytes::Bytes;
use http::header::{CONNECTION, UPGRADE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::detect::Via;
/// `headers` are the protocol's own, from its [`Accepted`](crate::Accepted).
pub(super) fn switching(via: Via, token: &str, headers: HeaderMap) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    match via {
        Via::Http1 => {
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(
                UPGRADE,
                HeaderValue::from_str(token).expect("the token came from a header value"),
            );
        }
        // RFC 8441 §5: a 2xx accepts an extended CONNECT; HTTP/2 forbids
        // Connection and Upgrade (RFC 9113 §8.2.2).
        Via::Http2Connect => *response.status_mut() = StatusCode::OK,
    }
    response.headers_mut().extend(headers);
    response
}
