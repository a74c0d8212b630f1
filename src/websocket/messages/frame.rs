//! Moved to the protocol core (`websocket::proto::frame`); kept for the
//! driver until it uses the core. Dead once it does.
pub(crate) use crate::websocket::proto::frame::*;
