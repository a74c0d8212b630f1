//! The request body, read to its end before the switch.

use bytes::{BufMut, Bytes, BytesMut};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tokio::time::Instant;

use crate::rejection::{BodyTooLarge, InvalidBody, Rejection};

/// RFC 9110 §7.8: the switch takes effect after the request is complete,
/// so the body is read to its end first (polling it is also what makes
/// hyper send `100 Continue` for `Expect: 100-continue`). The bytes are
/// dropped as they come unless the protocol answers the request itself (h2c
/// does, on stream 1): otherwise the new protocol starts after the request.
pub(super) async fn read<B>(
    body: B,
    limit: usize,
    keep: bool,
    deadline: Instant,
) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<tower::BoxError>,
{
    match tokio::time::timeout_at(deadline, read_within(body, limit, keep)).await {
        Ok(result) => result,
        Err(_) => Err(InvalidBody.into()),
    }
}

async fn read_within<B>(body: B, limit: usize, keep: bool) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<tower::BoxError>,
{
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| -> Rejection {
            if e.is::<http_body_util::LengthLimitError>() {
                BodyTooLarge.into()
            } else {
                InvalidBody.into()
            }
        })?;
        if let (true, Ok(mut data)) = (keep, frame.into_data()) {
            kept.put(&mut data);
        }
    }
    Ok(kept.freeze())
}
