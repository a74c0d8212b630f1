//! The backplane without a Redis: what it does while Redis is away (a
//! closed port), and how it starts and ends. Against a real Redis:
//! tests/redis_backplane.rs.

use std::sync::Weak;
use std::time::Duration;

use super::*;
use crate::websocket::Topics;

/// A port of 127.0.0.1 that refuses connections (bound, then closed).
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    format!("redis://127.0.0.1:{port}/")
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[test]
fn configuration() {
    assert!(RedisBackplane::new("redis://127.0.0.1:6379/0").is_ok());
    assert!(RedisBackplane::new("redis+unix:///run/redis.sock").is_ok());
    let err = RedisBackplane::new("127.0.0.1:6379").unwrap_err();
    assert!(err.to_string().starts_with("invalid Redis URL"), "{err}");
    let backplane = RedisBackplane::new("redis://127.0.0.1/")
        .unwrap()
        .reconnect_backoff(Duration::ZERO, Duration::ZERO);
    assert_eq!(
        backplane.settings.backoff,
        (Duration::from_millis(1), Duration::from_millis(1)),
        "a zero back-off would spin"
    );
    let debug = format!("{backplane:?}");
    assert!(debug.contains("tower-upgrade:"), "{debug}");
    let secret = RedisBackplane::new("redis://:hunter2@127.0.0.1/").unwrap();
    assert!(!format!("{secret:?}").contains("hunter2"));
}

#[test]
fn built_outside_a_runtime_it_stays_local() {
    let topics = Topics::builder()
        .backplane(RedisBackplane::new(&refused_url()).unwrap())
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let report = runtime
        .block_on(topics.publish("room", Message::text("hi")))
        .unwrap();
    assert_eq!(report.delivered(), 0);
}

/// Redis away: publishing never waits, the outbox keeps its bound, the
/// topics wanted are kept for when it comes, and the tasks end with the
/// backplane.
#[tokio::test]
async fn while_redis_is_away_nothing_waits_or_grows_and_drop_ends_the_tasks() {
    let before = alive_tasks();
    let backplane = RedisBackplane::new(&refused_url())
        .unwrap()
        .max_outbox(10, 1 << 20)
        .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(5));
    backplane.attach(BackplaneInbox {
        topics: Weak::new(),
    });
    assert_eq!(alive_tasks(), before + 3, "subscribe, deliver, publish");
    for i in 0..10_000 {
        backplane.publish("room", &Message::text(format!("{i}")));
        if i % 100 == 0 {
            // Let the tasks try (and fail) to connect meanwhile.
            tokio::task::yield_now().await;
        }
    }
    let attached = backplane.attached.get().unwrap();
    assert!(attached.outbox.len() <= 10, "{}", attached.outbox.len());
    for topic in ["a", "b", "a"] {
        backplane.subscribe(topic);
    }
    backplane.unsubscribe("b");
    assert_eq!(lock(&backplane.wanted).len(), 1);
    // Let it back off a few times.
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(backplane);
    tokio::time::timeout(Duration::from_secs(10), async {
        while alive_tasks() > before {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the tasks ended");
}
