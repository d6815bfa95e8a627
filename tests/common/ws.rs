//! A GraphQL-over-websocket test client speaking both protocols
//! (graphql-transport-ws and the legacy graphql-ws) to `/graphql/ws`.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The two protocols of `/graphql/ws`.
pub const PROTOCOLS: [&str; 2] = ["graphql-transport-ws", "graphql-ws"];

/// How long a test waits for a message it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// One open, acknowledged connection.
pub struct WsClient {
    socket: Socket,
    protocol: &'static str,
    next_id: u32,
}

/// What the server said about one operation.
#[derive(Debug)]
pub enum Delivery {
    /// A result (`data` and/or `errors`).
    Next(Value),
    /// The operation failed (graphql-transport-ws `error`).
    Error(Value),
    /// The operation ended.
    Complete,
}

impl WsClient {
    /// Opens a socket and sends `connection_init` (with `token` as the
    /// Authorization entry of the payload); `Err` carries the close frame
    /// when the server refuses.
    pub async fn connect(
        addr: SocketAddr,
        protocol: &'static str,
        token: Option<&str>,
    ) -> Result<WsClient, Option<CloseFrame>> {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connect");
        let mut client = WsClient {
            socket,
            protocol,
            next_id: 0,
        };
        let payload = match token {
            Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        loop {
            match client.recv().await {
                Some(Message::Text(text)) => {
                    let msg: Value = serde_json::from_str(&text).unwrap();
                    if msg["type"] == "connection_ack" {
                        return Ok(client);
                    }
                }
                Some(Message::Close(frame)) => return Err(frame),
                None => return Err(None),
                _ => {}
            }
        }
    }

    /// Sends one message as JSON text.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// The next frame that is not a keep-alive (answering pings), or `None`
    /// when the socket ended; panics after [`WAIT`].
    async fn recv(&mut self) -> Option<Message> {
        self.recv_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no message within {WAIT:?}"))
    }

    /// Like `recv`, but `None` (outer) when nothing came within `wait`.
    async fn recv_within(&mut self, wait: Duration) -> Option<Option<Message>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next()).await;
            let message = match next {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(None),
                Ok(Some(Ok(message))) => message,
            };
            match &message {
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Text(text) => {
                    let msg: Value = serde_json::from_str(text).unwrap_or_default();
                    match msg["type"].as_str() {
                        Some("ka") | Some("pong") => continue,
                        Some("ping") => {
                            self.send(json!({ "type": "pong" })).await;
                            continue;
                        }
                        _ => return Some(Some(message)),
                    }
                }
                _ => return Some(Some(message)),
            }
        }
    }

    /// The next raw frame within `wait` (keep-alives included); `None` when
    /// nothing came, `Some(None)` when the socket ended.
    pub async fn next_frame(&mut self, wait: Duration) -> Option<Option<Message>> {
        match tokio::time::timeout(wait, self.socket.next()).await {
            Err(_) => None,
            Ok(Some(Ok(message))) => Some(Some(message)),
            Ok(_) => Some(None),
        }
    }

    /// Starts an operation; returns its id.
    pub async fn start(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let kind = if self.protocol == "graphql-ws" {
            "start"
        } else {
            "subscribe"
        };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": query, "variables": variables } }))
            .await;
        id
    }

    /// Stops an operation.
    pub async fn stop(&mut self, id: &str) {
        let kind = if self.protocol == "graphql-ws" {
            "stop"
        } else {
            "complete"
        };
        self.send(json!({ "id": id, "type": kind })).await;
    }

    /// The next message about any operation: (id, delivery).
    pub async fn next_any(&mut self) -> (String, Delivery) {
        self.next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no delivery within {WAIT:?}"))
    }

    /// The next message about any operation within `wait`, if one came.
    pub async fn next_within(&mut self, wait: Duration) -> Option<(String, Delivery)> {
        loop {
            let message = self.recv_within(wait).await?;
            let Some(Message::Text(text)) = message else {
                panic!("socket ended: {message:?}");
            };
            let msg: Value = serde_json::from_str(&text).unwrap();
            if std::env::var("WS_TRACE").is_ok() {
                eprintln!("<- {} {msg}", self.protocol);
            }
            let id = msg["id"].as_str().unwrap_or_default().to_string();
            let delivery = match msg["type"].as_str().unwrap_or_default() {
                "next" | "data" => Delivery::Next(msg["payload"].clone()),
                "error" => Delivery::Error(msg["payload"].clone()),
                "complete" => Delivery::Complete,
                _ => continue,
            };
            return Some((id, delivery));
        }
    }

    /// The next result of operation `id` (skipping other operations').
    pub async fn next(&mut self, id: &str) -> Value {
        loop {
            let (got, delivery) = self.next_any().await;
            if got != id {
                continue;
            }
            match delivery {
                Delivery::Next(payload) => return payload,
                other => panic!("expected a result for {id}, got {other:?}"),
            }
        }
    }

    /// The next `data.<field>` of operation `id`, asserting no errors.
    pub async fn next_data(&mut self, id: &str, field: &str) -> Value {
        let payload = self.next(id).await;
        assert!(
            payload.get("errors").is_none(),
            "unexpected errors: {payload}"
        );
        payload["data"][field].clone()
    }

    /// The error code operation `id` ends with (a result with errors or an
    /// `error` message), asserting that it then completes.
    pub async fn ends_with_error(&mut self, id: &str) -> Value {
        loop {
            let (got, delivery) = self.next_any().await;
            if got != id {
                continue;
            }
            let error = match delivery {
                // Validation errors: `error` is terminal on its own.
                Delivery::Error(errors) => return errors[0].clone(),
                Delivery::Next(payload) if payload.get("errors").is_some() => {
                    payload["errors"][0].clone()
                }
                other => panic!("expected an error for {id}, got {other:?}"),
            };
            let (then, delivery) = self.next_any().await;
            assert!(
                then == id && matches!(delivery, Delivery::Complete),
                "then complete: {then} {delivery:?}"
            );
            return error;
        }
    }

    /// Asserts nothing arrives for `wait`.
    pub async fn assert_silent(&mut self, wait: Duration) {
        if let Some(got) = self.next_within(wait).await {
            panic!("expected nothing, got {got:?}");
        }
    }

    /// Waits for the server to close the socket; the close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            match self.recv().await {
                Some(Message::Close(frame)) => return frame,
                None => return None,
                _ => {}
            }
        }
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
