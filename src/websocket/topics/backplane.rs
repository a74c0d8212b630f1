//! The seam to other instances of the service: what a backplane (Redis
//! pub/sub, NATS, ...) implements so that a message published on one
//! instance reaches the subscribers of the same topic on every instance.

use std::sync::Weak;

use super::{Inner, PublishError, Published};
use crate::websocket::Message;

/// Carries published messages between the instances of a service.
///
/// [`Topics`](super::Topics) calls it; it never blocks, and never fails a
/// publish: local delivery goes on whatever the backplane's state. An
/// implementation queues what it must send (bounded: nothing may grow while
/// its server is away), sends it from a task of its own, reconnects with a
/// back-off, resubscribes to the topics it was asked for, and hands what
/// other instances published to the [`BackplaneInbox`] it was given. It
/// must not hand back what this instance published (tag messages with an
/// instance id, or use a server feature that skips the sender).
///
/// NATS would plug in the same way: `subscribe` and `unsubscribe` become
/// NATS subscriptions on a subject per topic (`prefix.<topic>`), `publish`
/// a `publish` on that subject with the instance id in a header, and the
/// subscription stream's messages go to the inbox.
///
/// ```
/// use std::sync::Mutex;
/// use tower_upgrade::websocket::{Backplane, BackplaneInbox, Message, Topics};
///
/// /// Sends nothing anywhere: records what it is told (a test double).
/// #[derive(Default)]
/// struct Recorder(Mutex<Vec<String>>);
///
/// impl Backplane for Recorder {
///     fn attach(&self, _inbox: BackplaneInbox) {}
///     fn subscribe(&self, topic: &str) {
///         self.0.lock().unwrap().push(format!("+{topic}"));
///     }
///     fn unsubscribe(&self, topic: &str) {
///         self.0.lock().unwrap().push(format!("-{topic}"));
///     }
///     fn publish(&self, topic: &str, _message: &Message) {
///         self.0.lock().unwrap().push(format!("{topic}!"));
///     }
/// }
///
/// let topics = Topics::builder().backplane(Recorder::default()).build();
/// # let _ = topics;
/// ```
pub trait Backplane: Send + Sync + 'static {
    /// Called once, when the [`Topics`](super::Topics) is built: where the
    /// messages of other instances go.
    fn attach(&self, inbox: BackplaneInbox);

    /// The first subscriber of `topic` on this instance came: receive the
    /// topic's messages from the other instances.
    fn subscribe(&self, topic: &str);

    /// The last subscriber of `topic` on this instance left.
    fn unsubscribe(&self, topic: &str);

    /// `message` (Text or Binary) was published to `topic` on this
    /// instance: send it to the others. Must not block.
    fn publish(&self, topic: &str, message: &Message);
}

/// Where a [`Backplane`] hands the messages other instances published: to
/// this instance's subscribers only (never back to the backplane).
#[derive(Clone, Debug)]
pub struct BackplaneInbox {
    pub(super) topics: Weak<Inner>,
}

impl BackplaneInbox {
    /// Delivers `message`, published to `topic` on another instance, to the
    /// subscribers here, under their slow-consumer policies. `None` once the
    /// [`Topics`](super::Topics) is gone.
    ///
    /// # Errors
    ///
    /// [`PublishError`] for a message that is not Text or Binary.
    pub async fn deliver(
        &self,
        topic: &str,
        message: Message,
    ) -> Option<Result<Published, PublishError>> {
        let inner = self.topics.upgrade()?;
        Some(inner.publish_local(topic, message).await)
    }
}
