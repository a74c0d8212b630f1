//! Why a [`WebSocket`](super::WebSocket) ended or refused a message.

use std::{fmt, io};

use super::close::CloseCode;
use super::message::Message;
use crate::websocket::proto::ProtocolError;

/// Why a WebSocket connection ended, returned once by
/// [`recv`](super::WebSocket::recv), or why a message could not be sent.
///
/// ```
/// use tower_upgrade::websocket::{CloseCode, Error};
///
/// fn log(error: &Error) {
///     if let Some(code) = error.close_code() {
///         eprintln!("closed with {code}: {error}");
///     }
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke RFC 6455 or RFC 7692 (text that is not UTF-8 and a
    /// message over its limit included); the server closed with
    /// [`ProtocolError::close_code`].
    Protocol(ProtocolError),
    /// No Pong, nor anything else, came back within the pong timeout after
    /// a Ping.
    PongTimeout,
    /// No data message either way within the idle timeout; closed with 1000.
    IdleTimeout,
    /// The peer read nothing the server wrote within the write timeout.
    WriteTimeout,
    /// The connection is closed: nothing more can be sent.
    Closed,
    /// The connection ended without a Close frame from the peer (RFC 6455
    /// §7.1.5: "The WebSocket Connection is Closed" with code 1006): the
    /// TCP connection dropped, or the peer went away. Returned once by
    /// [`recv`](super::WebSocket::recv), then `None`.
    AbnormalClosure,
    /// The handler tried to send a Close whose code may not be sent (RFC
    /// 6455 §7.4: 1005, 1006 and 1015 are reserved for reporting, and only
    /// 1000-1003, 1007-1014 and 3000-4999 are defined); nothing was sent.
    InvalidCloseCode(u16),
    /// The connection failed.
    Io(io::Error),
}

impl Error {
    /// The close code the server sent for this error, if it sent one; for
    /// [`AbnormalClosure`](Self::AbnormalClosure), 1006, the code that
    /// reports it (never sent).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(error) => Some(error.close_code()),
            Self::IdleTimeout => Some(CloseCode::NORMAL),
            Self::PongTimeout => Some(CloseCode::POLICY),
            Self::AbnormalClosure => Some(CloseCode::ABNORMAL),
            Self::WriteTimeout | Self::Closed | Self::InvalidCloseCode(_) | Self::Io(_) => None,
        }
    }

    /// Whether the error is a timeout (pong, idle or write).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::PongTimeout | Self::IdleTimeout | Self::WriteTimeout
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(error) => write!(f, "websocket protocol error: {error}"),
            Self::PongTimeout => f.write_str("websocket peer did not answer a ping in time"),
            Self::IdleTimeout => f.write_str("websocket idle timeout"),
            Self::WriteTimeout => f.write_str("websocket peer stopped reading (write timeout)"),
            Self::Closed => f.write_str("websocket connection closed"),
            Self::AbnormalClosure => {
                f.write_str("websocket connection ended without a close frame (1006)")
            }
            Self::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Self::Io(e) => write!(f, "websocket connection failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// A message [`Sender::try_send`](super::Sender::try_send) could not queue,
/// given back.
///
/// ```
/// use tower_upgrade::websocket::{Message, TrySendError};
///
/// fn retry_later(error: TrySendError) -> Message {
///     error.into_message()
/// }
/// ```
#[derive(Debug)]
pub struct TrySendError {
    message: Message,
    closed: bool,
}

impl TrySendError {
    pub(crate) fn full(message: Message) -> Self {
        Self {
            message,
            closed: false,
        }
    }

    pub(crate) fn closed(message: Message) -> Self {
        Self {
            message,
            closed: true,
        }
    }

    /// The message that was not queued.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// `true`: the connection is closed; `false`: the send buffer is full.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.closed {
            "websocket connection closed"
        } else {
            "websocket send buffer full"
        })
    }
}

impl std::error::Error for TrySendError {}
