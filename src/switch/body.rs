//! The request body, read to its end before the switch.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tokio::time::Instant;

use crate::rejection::{BodyTooLarge, InvalidBody, Rejection, RequestTimeout};

/// RFC 9110 §7.8: the switch takes effect after the request is complete,
/// so the body is read to its end first (polling it is also what makes
/// hyper send `100 Continue` for `Expect: 100-continue`). The bytes are
/// dropped as they come unless the protocol answers the request itself (h2c
/// does, on stream 1): otherwise the new protocol starts after the request.
///
/// A kept body is allocated once, at its declared length (`declared`,
/// within `limit`), when its first bytes arrive: no growth by doubling, and
/// nothing held for a request that sent only its head.
pub(super) async fn read<B>(
    body: B,
    limit: usize,
    keep: bool,
    declared: Option<u64>,
    deadline: Instant,
) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<tower::BoxError>,
{
    let read = read_within(body, limit, keep.then_some(declared));
    match tokio::time::timeout_at(deadline, read).await {
        Ok(result) => result,
        // RFC 9110 §15.5.9: the request did not arrive in full within the
        // time the server was prepared to wait.
        Err(_) => Err(RequestTimeout.into()),
    }
}

/// `keep` is `Some(declared length)` when the bytes are kept.
async fn read_within<B>(
    body: B,
    limit: usize,
    keep: Option<Option<u64>>,
) -> Result<Bytes, Rejection>
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
        if let (Some(declared), Ok(mut data)) = (keep, frame.into_data()) {
            if kept.capacity() == 0 {
                let declared = declared.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
                kept.reserve(declared.min(limit).max(data.remaining()));
            }
            kept.put(&mut data);
        }
    }
    Ok(kept.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body arriving in the given chunks.
    struct Chunks(VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    fn chunks(total: usize, chunk: usize) -> Chunks {
        let data = vec![7u8; total];
        Chunks(data.chunks(chunk).map(Bytes::copy_from_slice).collect())
    }

    #[tokio::test]
    async fn a_kept_body_is_allocated_at_its_declared_length() {
        let body = read_within(chunks(65_534, 1_000), 65_536, Some(Some(65_534)))
            .await
            .unwrap();
        assert_eq!(body.len(), 65_534);
        let mut again = BytesMut::from(body);
        assert_eq!(again.capacity(), 65_534, "one allocation, no doubling");
        again.clear();
    }

    #[tokio::test]
    async fn a_dropped_body_keeps_nothing() {
        let body = read_within(chunks(10_000, 1_000), 65_536, None)
            .await
            .unwrap();
        assert!(body.is_empty());
    }

    /// A body that never ends.
    struct Stalled;

    impl Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    /// RFC 9110 §15.5.9: a body that has not arrived by the deadline is a
    /// 408, not a 400 (issue 17). The clock is paused: tokio moves it to
    /// the deadline as soon as nothing else can run.
    #[tokio::test(start_paused = true)]
    async fn a_body_past_the_deadline_is_a_request_timeout() {
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let refused = read(Stalled, 65_536, false, Some(10), deadline).await;
        assert!(
            matches!(refused, Err(Rejection::RequestTimeout(_))),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let refused = read_within(chunks(70_000, 1_000), 65_536, Some(Some(70_000))).await;
        assert!(matches!(refused, Err(Rejection::BodyTooLarge(_))));
    }
}
