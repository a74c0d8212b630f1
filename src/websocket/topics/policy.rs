//! What a publish does to a subscriber whose send buffer is full, and what
//! it reports.

use std::time::Duration;

/// What [`Topics::publish`](super::Topics::publish) does with a subscriber
/// whose send buffer
/// ([`max_write_buffer_size`](crate::websocket::FrameLimits::max_write_buffer_size))
/// is full: a client that reads slower than the topic is published to, or
/// not at all. Set for a whole table with
/// [`TopicsBuilder::slow_consumer`](super::TopicsBuilder::slow_consumer), or
/// per subscription with [`Topics::subscribe_with`](super::Topics::subscribe_with).
///
/// Every outcome is counted: `tower_upgrade_topic_dropped_total` and
/// `tower_upgrade_topic_slow_consumers_closed_total`.
///
/// ```
/// use std::time::Duration;
/// use tower_upgrade::websocket::SlowConsumer;
///
/// // A price feed: a client that misses 100 updates in a row is of no use.
/// let feed = SlowConsumer::Close { after: 100 };
/// // A chat room: wait a little, then let the client reconnect.
/// let chat = SlowConsumer::Wait(Duration::from_millis(200));
/// # let _ = (feed, chat);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowConsumer {
    /// The message is dropped for that subscriber; the others get it. The
    /// default: a dashboard that skips a frame catches up on the next.
    #[default]
    Drop,
    /// The message is dropped, and once the subscriber has missed more than
    /// `after` messages in a row it is closed with 1013 (RFC 6455 §7.4.1,
    /// try again later) so that its client reconnects and starts afresh.
    /// `after: 0` closes it at the first message it cannot take.
    Close {
        /// Messages it may miss in a row before it is closed.
        after: u32,
    },
    /// `publish` waits up to this long for room in its buffer (the
    /// subscribers that have room get the message at once), then closes it
    /// with 1013. The publisher is held back by its slowest subscriber, up
    /// to this bound.
    Wait(Duration),
}

/// What one [`publish`](super::Topics::publish) did on this instance: how
/// many subscribers took the message, and how many did not, by policy.
///
/// ```
/// use tower_upgrade::websocket::{Message, Topics};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let topics = Topics::new();
/// let report = topics.publish("room", Message::text("hi")).await.unwrap();
/// assert_eq!((report.delivered(), report.dropped(), report.closed()), (0, 0, 0));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub(crate) delivered: usize,
    pub(crate) dropped: usize,
    pub(crate) closed: usize,
}

impl Published {
    /// Subscribers whose queue took the message (it is written by their
    /// connection's next poll).
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// Subscribers that missed it: full, under [`SlowConsumer::Drop`] or
    /// [`SlowConsumer::Close`] below its bound.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Subscribers closed with 1013 because of it.
    pub fn closed(&self) -> usize {
        self.closed
    }
}
