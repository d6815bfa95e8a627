//! One change notification, as the `0007_live` triggers send it on channel
//! `gateway_live`, and the resume cursor clients pass back.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// The NOTIFY channel the triggers publish on.
pub const CHANNEL: &str = "gateway_live";

/// What happened to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Op {
    /// A new row.
    Insert,
    /// A changed row.
    Update,
    /// A removed row.
    Delete,
}

/// A committed change to one row. Carries keys only, never row contents:
/// whoever receives it reads the row under their own claims.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LiveEvent {
    /// `schema.table`.
    pub table: String,
    /// The operation.
    pub op: Op,
    /// The row's primary key.
    pub id: Uuid,
    /// The owning user, when the row has one.
    pub user_id: Option<Uuid>,
    /// The parent session or conversation (the session itself for session rows).
    pub session_id: Option<Uuid>,
    /// The workspace, for workspace-scoped rows.
    pub workspace_id: Option<Uuid>,
    /// The row's ordering timestamp (the cursor's first half).
    pub ts: DateTime<Utc>,
}

impl LiveEvent {
    /// Parses a notification payload.
    pub fn parse(payload: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(payload)
    }

    /// The event's position in its feed.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            ts: self.ts,
            id: self.id,
        }
    }

    /// Whether this is an insert into `table`.
    pub fn is_insert_into(&self, table: &str) -> bool {
        self.op == Op::Insert && self.table == table
    }
}

/// A position in a feed: the row's timestamp, then its id (ordered as
/// PostgreSQL orders `(timestamptz, uuid)` rows). Opaque to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The row's ordering timestamp.
    pub ts: DateTime<Utc>,
    /// The row's id.
    pub id: Uuid,
}

impl Cursor {
    /// The opaque text form handed to clients.
    pub fn encode(&self) -> String {
        let raw = format!("{}|{}", self.ts.timestamp_micros(), self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Parses [`Cursor::encode`]'s output; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (micros, id) = raw.split_once('|')?;
        Some(Self {
            ts: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_trigger_payload() {
        let e = LiveEvent::parse(
            r#"{"table":"chat.chat_messages","op":"INSERT","id":"6f1c1f6e-4a53-4c55-9a55-3f6f4c1e2b10","user_id":"0b9f6f43-52a3-4c0e-8a7f-2d2f3d0c1a11","session_id":null,"workspace_id":null,"ts":"2026-11-22T09:14:03.123456Z"}"#,
        )
        .unwrap();
        assert_eq!(e.op, Op::Insert);
        assert!(e.is_insert_into("chat.chat_messages"));
        assert_eq!(e.ts.timestamp_subsec_micros(), 123_456);
        assert!(e.session_id.is_none());
    }

    #[test]
    fn rejects_a_payload_without_keys() {
        assert!(LiveEvent::parse(r#"{"table":"x","op":"INSERT"}"#).is_err());
        assert!(LiveEvent::parse("not json").is_err());
    }

    #[test]
    fn cursor_round_trips_and_orders_like_postgres() {
        let a = Cursor {
            ts: DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
            id: Uuid::from_u128(2),
        };
        assert_eq!(Cursor::decode(&a.encode()), Some(a));
        let b = Cursor {
            id: Uuid::from_u128(3),
            ..a
        };
        assert!(a < b, "same instant: ordered by id");
        assert_eq!(Cursor::decode("garbage"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
