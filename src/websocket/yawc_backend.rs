//! Messages through yawc, the backend that implements permessage-deflate
//! (RFC 7692).

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use yawc::close::CloseCode;
use yawc::{CompressionLevel, DeflateOptions, Frame, Options, Role, WebSocket, WebSocketError};

use super::{frame_limits, FrameLimits};
use crate::Upgraded;

impl FrameLimits {
    /// These limits as yawc options, without compression.
    ///
    /// yawc bounds every frame's payload, wire or decompressed, and the
    /// reassembled message by one number each; both are set from
    /// `max_message_size`, so a message, compressed or not, is never larger
    /// than that (RFC 6455 §7.4.1: close code 1009 past it). `max_frame_size`
    /// has no separate effect here.
    ///
    /// ```
    /// use tower_upgrade::websocket::FrameLimits;
    ///
    /// let options = FrameLimits::default().to_yawc();
    /// assert_eq!(options.max_read_buffer, Some((1 << 20) + 1));
    /// ```
    pub fn to_yawc(self) -> Options {
        // yawc's limits are exclusive; ours are the largest size allowed.
        let limit = self.max_message_size.saturating_add(1);
        Options::default()
            // RFC 6455 §8.1: a text message that is not UTF-8 fails the
            // connection (close code 1007).
            .with_utf8()
            .with_max_payload_read(limit)
            .with_max_read_buffer(limit)
            .with_read_buffer_capacity(self.read_buffer_size)
            .with_write_buffer_capacity(self.write_buffer_size)
            .with_backpressure_boundary(self.write_buffer_size.max(1))
    }
}

impl Upgraded {
    /// A WebSocket message stream over this connection through yawc, with
    /// the [`FrameLimits`] of the [`WebSocketConfig`](super::WebSocketConfig)
    /// registration (the defaults for any other protocol) and, when the
    /// handshake agreed on it, permessage-deflate with the agreed parameters
    /// (see [`WebSocketConfig::permessage_deflate`](super::WebSocketConfig::permessage_deflate)).
    ///
    /// Message size limits apply after decompression: a message larger than
    /// `max_message_size` once inflated ends the connection with close code
    /// 1009, and inflating stops at the limit (decompression bombs).
    ///
    /// yawc queues the answer to a Ping and to a Close; keep reading until
    /// [`next_frame`](yawc::WebSocket::next_frame) fails, so that the close
    /// reply is written before the connection is dropped.
    ///
    /// # Errors
    ///
    /// Only if permessage-deflate was agreed without compression settings,
    /// which this crate never does.
    ///
    /// ```
    /// use futures_util::SinkExt;
    /// use tower::service_fn;
    /// use tower_upgrade::websocket::yawc::{OpCode, WebSocketError};
    /// use tower_upgrade::websocket::{DeflateConfig, WebSocketConfig};
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().websocket(
    ///     WebSocketConfig::new().permessage_deflate(DeflateConfig::default()),
    ///     service_fn(|conn: Upgraded| async move {
    ///         let mut ws = conn.into_yawc()?;
    ///         loop {
    ///             let frame = match ws.next_frame().await {
    ///                 Ok(frame) => frame,
    ///                 // The peer closed (the reply was sent) or the stream ended.
    ///                 Err(WebSocketError::ConnectionClosed) => return Ok(()),
    ///                 Err(e) => return Err(e),
    ///             };
    ///             if matches!(frame.opcode(), OpCode::Text | OpCode::Binary) {
    ///                 ws.send(frame).await?;
    ///             }
    ///         }
    ///     }),
    /// );
    /// # let _ = layer;
    /// ```
    pub fn into_yawc(self) -> yawc::Result<WebSocket<Upgraded>> {
        let mut options = frame_limits(&self).to_yawc();
        let agreed = self.permessage_deflate().copied();
        let extensions = match (agreed, self.extensions().get::<super::DeflateConfig>()) {
            (Some(agreed), Some(config)) => {
                options.compression = Some(DeflateOptions {
                    level: CompressionLevel::new(config.level),
                    // An empty message gains nothing from compression, and
                    // yawc 0.5 never finishes compressing one once its
                    // context holds an earlier message (the sync flush
                    // writes nothing new): send it uncompressed (RFC 7692
                    // §6.1 lets every message choose).
                    compression_threshold: config.threshold.max(1),
                    // Used only by a direction without context takeover:
                    // its state is borrowed for one message at a time.
                    pool: Some(config.pool.clone()),
                    ..DeflateOptions::default()
                });
                // yawc reads the window sizes and context takeover from the
                // agreed parameters, not from `options`.
                Some(agreed.to_string())
            }
            _ => None,
        };
        WebSocket::from_stream_with_extensions(self, Role::Server, extensions.as_deref(), options)
    }
}

/// Ends a yawc connection whose read failed with `error` the way RFC 6455
/// §7.4.1 asks: with a Close frame whose code names the cause (1009 for a
/// message over the limit, after decompression; 1007 for text that is not
/// UTF-8; 1002 for a framing error), written before the connection is
/// dropped.
///
/// yawc queues such a Close itself for errors it finds while reading a
/// frame, and writes it on the next read; for errors it finds after
/// reassembling a message it queues nothing. This writes whichever is needed,
/// once. Call it, then return from the handler.
///
/// ```
/// use futures_util::SinkExt;
/// use tower_upgrade::websocket::close_after_error;
/// use tower_upgrade::websocket::yawc::{OpCode, WebSocketError};
/// use tower_upgrade::Upgraded;
///
/// async fn echo(conn: Upgraded) -> Result<(), WebSocketError> {
///     let mut ws = conn.into_yawc()?;
///     loop {
///         match ws.next_frame().await {
///             Ok(frame) if matches!(frame.opcode(), OpCode::Text | OpCode::Binary) => {
///                 ws.send(frame).await?
///             }
///             Ok(_) => {}
///             Err(WebSocketError::ConnectionClosed) => return Ok(()),
///             Err(error) => {
///                 close_after_error(&mut ws, &error).await;
///                 return Err(error);
///             }
///         }
///     }
/// }
/// ```
pub async fn close_after_error<S>(ws: &mut WebSocket<S>, error: &WebSocketError)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let code = match error {
        WebSocketError::ConnectionClosed | WebSocketError::IoError(_) => return,
        WebSocketError::FrameTooLarge => CloseCode::Size,
        WebSocketError::InvalidUTF8 => CloseCode::Invalid,
        WebSocketError::InvalidFragment
        | WebSocketError::InvalidContinuationFrame
        | WebSocketError::FragmentTimeout
        | WebSocketError::ReservedBitsNotZero
        | WebSocketError::ControlFrameFragmented
        | WebSocketError::PingFrameTooLarge
        | WebSocketError::InvalidCloseFrame
        | WebSocketError::InvalidCloseCode
        | WebSocketError::InvalidOpCode(_)
        | WebSocketError::CompressionNotSupported => CloseCode::Protocol,
        _ => CloseCode::Error,
    };
    // After an error of its own, yawc's reader is closed: one poll writes
    // the Close it queued and reports the end. A frame, or waiting for one,
    // means nothing was queued. A new error means yawc queued a Close for
    // it: poll once more to write it.
    for _ in 0..2 {
        // Bound first: a `Context` held across an await is not `Send`.
        let polled = ws.poll_next_frame(&mut Context::from_waker(Waker::noop()));
        match polled {
            Poll::Ready(Err(WebSocketError::ConnectionClosed)) => return,
            Poll::Ready(Err(_)) => continue,
            // Its Close is queued but the socket is full: wait for the write.
            Poll::Pending if write_pending(ws) => {
                let _ = poll_fn(|cx| ws.poll_next_frame(cx)).await;
                return;
            }
            Poll::Pending | Poll::Ready(Ok(_)) => break,
        }
    }
    let _ = send(ws, Frame::close(code, error.to_string())).await;
}

/// Whether yawc still has frames of its own (a Pong, a Close) to write:
/// `poll_ready` only completes once they are written.
fn write_pending<S>(ws: &mut WebSocket<S>) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    Pin::new(ws)
        .poll_ready(&mut Context::from_waker(Waker::noop()))
        .is_pending()
}

async fn send<S>(ws: &mut WebSocket<S>, frame: Frame) -> yawc::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    poll_fn(|cx| Pin::new(&mut *ws).poll_ready(cx)).await?;
    Pin::new(&mut *ws).start_send(frame)?;
    poll_fn(|cx| Pin::new(&mut *ws).poll_flush(cx)).await
}
