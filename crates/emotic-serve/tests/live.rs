//! `GET /v1/live`: frames in, tracked records out; a fast client gets the newest frames and
//! is told how many were dropped; garbage frames are answered with errors; a client that
//! disconnects in the middle of a frame leaves the server well.

mod common;

use std::sync::OnceLock;

use common::Running;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

fn server() -> Option<Running> {
    static SERVER: OnceLock<Option<Running>> = OnceLock::new();
    SERVER
        .get_or_init(|| common::config(true).map(common::start))
        .clone()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &Running) -> Socket {
    let url = format!("ws://{}/v1/live", server.addr);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn reply(socket: &mut Socket) -> serde_json::Value {
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn frames_get_tracked_records_and_garbage_gets_errors() {
    let Some(server) = server() else { return };
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    let mut socket = connect(&server).await;
    let mut ids = Vec::new();
    for frame in 0..3u64 {
        socket
            .send(Message::Binary(zidane.clone().into()))
            .await
            .unwrap();
        let r = reply(&mut socket).await;
        assert_eq!(r["frame"], frame);
        assert_eq!(r["dropped"], 0);
        let record = &r["record"];
        assert_eq!(record["frame_index"], frame);
        assert_eq!(record["kind"], "webcam");
        let tracks: Vec<Option<u64>> = serde_json::from_value(record["track_ids"].clone()).unwrap();
        ids.push(tracks);
        // Tracked persons carry the track's smoothed emotion, as persons.jsonl does.
        let persons = r["persons"].as_array().unwrap();
        assert!(persons.len() >= 2, "{r}");
        assert!(
            persons
                .iter()
                .all(|p| p["emotion"]["smoothed"]["vad"].is_object()),
            "{r}"
        );
    }
    // The same picture three times: the same persons keep the same track IDs.
    assert!(ids[0].iter().flatten().count() >= 2, "{ids:?}");
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);

    // Garbage: an error for that frame, and the connection goes on with the same tracks.
    socket
        .send(Message::Binary(b"garbage".to_vec().into()))
        .await
        .unwrap();
    let r = reply(&mut socket).await;
    assert_eq!(r["frame"], 3);
    assert_eq!(r["error"], "unsupported_image");
    assert!(r.get("record").is_none());
    socket
        .send(Message::Binary(zidane[..zidane.len() / 3].to_vec().into()))
        .await
        .unwrap();
    assert_eq!(reply(&mut socket).await["error"], "corrupt_image");
    socket.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(reply(&mut socket).await["error"], "unsupported_image");
    socket
        .send(Message::Binary(zidane.clone().into()))
        .await
        .unwrap();
    let r = reply(&mut socket).await;
    let tracks: Vec<Option<u64>> =
        serde_json::from_value(r["record"]["track_ids"].clone()).unwrap();
    assert_eq!(tracks, ids[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_client_gets_the_newest_frame_and_a_drop_count() {
    let Some(server) = server() else { return };
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    let mut socket = connect(&server).await;
    const SENT: u64 = 10;
    // All frames at once, far faster than they can be processed.
    for _ in 0..SENT {
        socket
            .send(Message::Binary(zidane.clone().into()))
            .await
            .unwrap();
    }
    let (mut answered, mut dropped) = (0u64, 0u64);
    loop {
        let r = reply(&mut socket).await;
        assert!(r["record"].is_object(), "{r}");
        answered += 1;
        dropped += r["dropped"].as_u64().unwrap();
        if r["frame"] == SENT - 1 {
            break;
        }
    }
    // Every frame was either answered or counted as dropped, the last one was answered, and
    // the backlog was not worked through frame by frame.
    assert_eq!(answered + dropped, SENT);
    assert!(dropped > 0, "answered all {answered}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_vanishes_mid_frame_leaves_the_server_well() {
    let Some(server) = server() else { return };
    // A hand-made handshake, then half of a binary frame that announces 100 000 bytes.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let handshake = format!(
        "GET /v1/live HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 1024];
    let n = tcp.read(&mut head).await.unwrap();
    assert!(
        String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    let mut frame = vec![0x82, 0xFF]; // FIN + binary; masked, 64-bit length follows
    frame.extend_from_slice(&100_000u64.to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]); // mask
    frame.extend_from_slice(&[0u8; 5_000]);
    tcp.write_all(&frame).await.unwrap();
    drop(tcp);

    // The server still answers, over HTTP and over a new connection.
    let mut socket = connect(&server).await;
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    socket.send(Message::Binary(zidane.into())).await.unwrap();
    assert!(reply(&mut socket).await["record"].is_object());
    let health = common::client()
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
