//! Topics over in-process sockets (`tokio::io::duplex`) with the raw client
//! of the message layer's tests.

use std::time::Duration;

use tokio::io::DuplexStream;

use super::*;
use crate::websocket::messages::tests::{
    client, client_frame, close_code, server_frame, settings, Client,
};
use crate::websocket::messages::Settings;
use crate::websocket::WebSocket;

/// A subscriber: its socket driven by a task that reads until the end, and
/// its raw client.
struct Member {
    sender: Sender,
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

fn member_with(settings: &Settings, pipe: usize) -> Member {
    let (server, io) = tokio::io::duplex(pipe);
    let mut ws: WebSocket<DuplexStream> = WebSocket::from_io(server, settings, None);
    let sender = ws.sender();
    let task = tokio::spawn(async move { while let Some(Ok(_)) = ws.recv().await {} });
    Member {
        sender,
        client: client(io),
        task,
    }
}

fn member() -> Member {
    member_with(&settings(), 64 * 1024)
}

#[tokio::test]
async fn publish_reaches_every_subscriber_once_encoded() {
    let topics = Topics::new();
    let mut members: Vec<Member> = (0..3).map(|_| member()).collect();
    for m in &members {
        assert!(topics.subscribe("room", &m.sender));
    }
    // Subscribing again changes nothing.
    assert!(topics.subscribe("room", &members[0].sender));
    assert_eq!(topics.subscribers("room"), 3);
    let report = topics.publish("room", Message::text("hi")).await.unwrap();
    assert_eq!(
        (report.delivered(), report.dropped(), report.closed()),
        (3, 0, 0)
    );
    let big = vec![7u8; 10_000];
    topics
        .publish("room", Message::binary(big.clone()))
        .await
        .unwrap();
    for m in &mut members {
        assert_eq!(
            server_frame(&mut m.client).await.unwrap(),
            (0x81, b"hi".to_vec())
        );
        assert_eq!(
            server_frame(&mut m.client).await.unwrap(),
            (0x82, big.clone())
        );
    }
    // Another topic, nobody there.
    let report = topics.publish("elsewhere", "x").await.unwrap();
    assert_eq!(report.delivered(), 0);
    let refused = topics
        .publish("room", Message::Ping(Default::default()))
        .await;
    assert!(refused.is_err(), "a Ping belongs to one connection");
}

#[tokio::test]
async fn a_closed_connection_leaves_its_topics() {
    let topics = Topics::new();
    let mut a = member();
    let b = member();
    topics.subscribe("room", &a.sender);
    topics.subscribe("other", &a.sender);
    topics.subscribe("room", &b.sender);
    assert_eq!(topics.len(), 2);
    // The client closes; the socket answers and ends.
    a.client
        .write_all(&client_frame(0x88, &[0x03, 0xE8]))
        .await
        .unwrap();
    let (first, payload) = server_frame(&mut a.client).await.unwrap();
    assert_eq!((first, close_code(&payload)), (0x88, 1000));
    a.task.await.unwrap();
    assert_eq!(topics.subscribers("room"), 1);
    assert_eq!(topics.len(), 1, "`other` had only `a`");
    assert!(
        !topics.subscribe("room", &a.sender),
        "closed: nothing subscribed"
    );
    assert_eq!(topics.subscribers("room"), 1);
    // Unsubscribing leaves nothing either.
    assert!(topics.unsubscribe("room", &b.sender));
    assert!(!topics.unsubscribe("room", &b.sender));
    assert!(topics.is_empty());
}

#[tokio::test]
async fn churn_leaves_nothing_behind() {
    let topics = Topics::new();
    let m = member();
    let before = (topics.len(), m.sender.shared.on_close_len());
    for i in 0..100_000u32 {
        let topic = format!("t{}", i % 7);
        assert!(topics.subscribe(&topic, &m.sender));
        assert!(topics.unsubscribe(&topic, &m.sender));
    }
    assert_eq!((topics.len(), m.sender.shared.on_close_len()), before);
    assert!(
        topics.inner.read().capacity() <= 32,
        "the table shrank back"
    );
}

/// A subscriber whose client never reads, with a small send buffer, among
/// readers: it misses messages (Drop) or is closed (Close), the others get
/// every one.
#[tokio::test]
async fn slow_consumers_meet_their_policy() {
    let mut small = settings();
    small.limits.max_write_buffer_size = 1024;
    for policy in [SlowConsumer::Drop, SlowConsumer::Close { after: 3 }] {
        let topics = Topics::builder().slow_consumer(policy).build();
        let mut fast = member();
        let slow = member_with(&small, 256);
        topics.subscribe("feed", &fast.sender);
        topics.subscribe("feed", &slow.sender);
        let (mut dropped, mut closed) = (0, 0);
        for i in 0..50u32 {
            let report = topics
                .publish("feed", Message::binary(vec![i as u8; 200]))
                .await
                .unwrap();
            dropped += report.dropped();
            closed += report.closed();
            // The fast one reads each message as it comes.
            assert_eq!(
                server_frame(&mut fast.client).await.unwrap(),
                (0x82, vec![i as u8; 200])
            );
        }
        match policy {
            SlowConsumer::Drop => {
                assert!(
                    dropped > 0 && closed == 0,
                    "{dropped} dropped, {closed} closed"
                );
                assert_eq!(topics.subscribers("feed"), 2);
            }
            _ => {
                // Three missed in a row, closed at the fourth; then gone
                // from the topic (its queue closed with the Close queued).
                assert_eq!((dropped, closed), (3, 1));
                assert!(slow.sender.is_closed());
            }
        }
        drop(slow);
    }
}

#[tokio::test(start_paused = true)]
async fn wait_holds_the_publish_until_room_or_the_deadline() {
    let mut small = settings();
    small.limits.max_write_buffer_size = 1024;
    let topics = Topics::builder()
        .slow_consumer(SlowConsumer::Wait(Duration::from_secs(1)))
        .build();
    let mut slow = member_with(&small, 256);
    topics.subscribe("feed", &slow.sender);
    // Fill its buffer: the pipe and the queue.
    let mut sent = 0;
    loop {
        let report = tokio::time::timeout(
            Duration::from_millis(10),
            topics.publish("feed", Message::binary(vec![1; 200])),
        )
        .await;
        match report {
            Ok(report) => {
                assert_eq!(report.unwrap().delivered(), 1);
                sent += 1;
            }
            Err(_) => break,
        }
    }
    assert!(sent > 2);
    // Room comes as the client reads: the waiting publish delivers.
    let publishing = {
        let topics = topics.clone();
        tokio::spawn(async move { topics.publish("feed", Message::binary(vec![2; 200])).await })
    };
    tokio::task::yield_now().await;
    for _ in 0..sent {
        assert_eq!(server_frame(&mut slow.client).await.unwrap().0, 0x82);
    }
    let report = publishing.await.unwrap().unwrap();
    assert_eq!((report.delivered(), report.closed()), (1, 0));
    // A client that stops reading: closed at the deadline.
    loop {
        let report = tokio::time::timeout(
            Duration::from_secs(5),
            topics.publish("feed", Message::binary(vec![3; 200])),
        )
        .await
        .expect("the deadline bounds the wait")
        .unwrap();
        if report.closed() == 1 {
            break;
        }
        assert_eq!(report.delivered(), 1);
    }
    assert!(slow.sender.is_closed());
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_without_context_takeover_compresses_once() {
    use crate::websocket::proto::compress::Deflate;
    use crate::websocket::proto::Encoder;
    use crate::websocket::DeflateConfig;
    use bytes::BytesMut;

    let config = DeflateConfig::new();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits"
            .parse()
            .unwrap(),
    );
    let offers = crate::websocket::extensions::parse_offers(&headers);
    let agreed = crate::websocket::deflate::negotiate(&config, &offers).unwrap();
    let json = br#"{"user":"ada","text":"hello hello hello hello hello","room":"lobby"}"#.repeat(8);
    let prepared = Prepared::new(true, bytes::Bytes::from(json.clone()));
    let mut first = Encoder::new().with_deflate(Deflate::new(&agreed, &config));
    let mut second = Encoder::new().with_deflate(Deflate::new(&agreed, &config));
    let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
    first.encode_prepared(&prepared, &mut a, false);
    // Alone, the second gets the compressed frame itself, uncopied.
    let whole = second.encode_prepared(&prepared, &mut b, true);
    assert!(b.is_empty());
    assert_eq!(&a[..], &whole[..], "the same frame for both");
    assert_eq!(a[0], 0xC1, "FIN, RSV1, Text");
    assert!(a.len() < json.len() / 2);
    assert_eq!(prepared.compressed_forms(), 1, "compressed once");
}

/// Publishers on two threads, written to idle connections directly or
/// through their tasks: every subscriber gets every message, each
/// publisher's in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_lose_nothing() {
    let topics = Topics::new();
    let mut members: Vec<Member> = (0..3).map(|_| member()).collect();
    for m in &members {
        topics.subscribe("t", &m.sender);
    }
    const EACH: u32 = 300;
    let publishers: Vec<_> = (0..2u8)
        .map(|p| {
            let topics = topics.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let mut payload = vec![p];
                    payload.extend_from_slice(&i.to_be_bytes());
                    let report = topics.publish("t", Message::binary(payload)).await.unwrap();
                    assert_eq!(report.delivered(), 3);
                    if i % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    for m in &mut members {
        let mut next = [0u32; 2];
        for _ in 0..2 * EACH {
            let (first, payload) = server_frame(&mut m.client).await.unwrap();
            assert_eq!(first, 0x82);
            let p = usize::from(payload[0]);
            let i = u32::from_be_bytes(payload[1..5].try_into().unwrap());
            assert_eq!(i, next[p], "publisher {p}'s messages in order");
            next[p] += 1;
        }
        // The socket's own sends still go out after the topics' writes.
        m.sender.send(Message::text("own")).await.unwrap();
        assert_eq!(
            server_frame(&mut m.client).await.unwrap(),
            (0x81, b"own".to_vec())
        );
    }
}
