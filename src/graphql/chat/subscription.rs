//! Live chat: the messages added to one conversation, and the changes to the
//! viewer's conversation list.

use super::types::{ChatMessage, ChatSession};
use crate::auth::Viewer;
use crate::graphql::error::{ApiError, ApiResult, ResultExt};
use crate::graphql::live::{
    cursor_of, event_ids, parse_after, row_feed, select_raw, ChangeOp, FeedKind, RowFeed,
};
use crate::live::{Cursor, Filter, Key, LiveEvent, Op};
use async_graphql::{Context, SimpleObject, Subscription};
use entity::chat::{chat_messages, chat_sessions};
use futures_util::Stream;
use sea_orm::{DatabaseTransaction, EntityTrait};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

const MESSAGES: &str = "chat.chat_messages";
const SESSIONS: &str = "chat.chat_sessions";

/// A message delivered by `chatMessages`, with its resume cursor.
#[derive(SimpleObject)]
pub struct ChatMessageEvent {
    /// Pass as `after:` to resume right after this message.
    pub cursor: String,
    /// The message.
    pub message: ChatMessage,
}

/// A change to one of the viewer's conversations, delivered by `chatSessions`.
#[derive(SimpleObject)]
pub struct ChatSessionChange {
    /// Pass as `after:` to resume right after this change.
    pub cursor: String,
    /// Created, updated (renamed, new message, stats) or deleted.
    pub op: ChangeOp,
    /// The conversation's id.
    pub session_id: Uuid,
    /// The conversation as it is now; null once deleted.
    pub session: Option<ChatSession>,
}

/// The chat subscriptions.
#[derive(Default)]
pub struct ChatSubscription;

#[Subscription]
impl ChatSubscription {
    /// Messages added to one of the viewer's conversations, oldest first.
    /// With `after` (a cursor from an earlier delivery), first the messages
    /// stored since then. Ordered by storage time (`createdAt`), not by the
    /// client-supplied `timestamp`.
    async fn chat_messages(
        &self,
        ctx: &Context<'_>,
        session_id: Uuid,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = ChatMessageEvent>> {
        let after = parse_after(after.as_deref()).gql()?;
        row_feed(ctx, MessagesFeed { session_id }, after)
            .await
            .gql()
    }

    /// Changes to the viewer's conversation list: created, renamed, new
    /// messages (stats), deleted. With `after`, first every conversation
    /// changed since then (as `UPDATED`; deletions in between are not
    /// replayed).
    async fn chat_sessions(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = ChatSessionChange>> {
        let after = parse_after(after.as_deref()).gql()?;
        row_feed(ctx, SessionsFeed, after).await.gql()
    }
}

fn signed_in(viewer: &Viewer) -> ApiResult<Uuid> {
    viewer
        .user_id
        .ok_or_else(|| ApiError::Unauthenticated("sign in first".into()))
}

struct MessagesFeed {
    session_id: Uuid,
}

impl MessagesFeed {
    fn deliveries(rows: Vec<chat_messages::Model>) -> Vec<(Cursor, ChatMessageEvent)> {
        rows.into_iter()
            .map(|m| {
                let cursor = cursor_of(m.created_at, m.id);
                let event = ChatMessageEvent {
                    cursor: cursor.encode(),
                    message: ChatMessage(m),
                };
                (cursor, event)
            })
            .collect()
    }
}

#[async_graphql::async_trait::async_trait]
impl RowFeed for MessagesFeed {
    type Item = ChatMessageEvent;

    async fn route(&self, tx: &DatabaseTransaction, viewer: &Viewer) -> ApiResult<(Key, Filter)> {
        signed_in(viewer)?;
        chat_sessions::Entity::find_by_id(self.session_id)
            .one(tx)
            .await?
            .ok_or(ApiError::NotFound("chat session"))?;
        let filter: Filter = Arc::new(|e: &LiveEvent| e.is_insert_into(MESSAGES));
        Ok((Key::Session(self.session_id), filter))
    }

    async fn after(
        &self,
        tx: &DatabaseTransaction,
        after: Cursor,
        limit: u64,
    ) -> ApiResult<Vec<(Cursor, ChatMessageEvent)>> {
        let rows = select_raw::<chat_messages::Entity>(
            tx,
            "SELECT * FROM chat.chat_messages WHERE session_id = $1 AND (created_at, id) > ($2, $3) \
             ORDER BY created_at, id LIMIT $4",
            vec![
                self.session_id.into(),
                after.ts.into(),
                after.id.into(),
                (limit as i64).into(),
            ],
        )
        .await?;
        Ok(Self::deliveries(rows))
    }

    async fn rows(
        &self,
        tx: &DatabaseTransaction,
        events: &[Arc<LiveEvent>],
    ) -> ApiResult<Vec<(Cursor, ChatMessageEvent)>> {
        let rows = select_raw::<chat_messages::Entity>(
            tx,
            "SELECT * FROM chat.chat_messages WHERE id = ANY($1) AND session_id = $2 \
             ORDER BY created_at, id",
            vec![event_ids(events).into(), self.session_id.into()],
        )
        .await?;
        Ok(Self::deliveries(rows))
    }
}

struct SessionsFeed;

#[async_graphql::async_trait::async_trait]
impl RowFeed for SessionsFeed {
    type Item = ChatSessionChange;
    const KIND: FeedKind = FeedKind::Changes;

    async fn route(&self, _tx: &DatabaseTransaction, viewer: &Viewer) -> ApiResult<(Key, Filter)> {
        let user = signed_in(viewer)?;
        let filter: Filter = Arc::new(|e: &LiveEvent| e.table == SESSIONS);
        Ok((Key::User(user), filter))
    }

    async fn after(
        &self,
        tx: &DatabaseTransaction,
        after: Cursor,
        limit: u64,
    ) -> ApiResult<Vec<(Cursor, ChatSessionChange)>> {
        let rows = select_raw::<chat_sessions::Entity>(
            tx,
            "SELECT * FROM chat.chat_sessions WHERE (updated_at, id) > ($1, $2) \
             ORDER BY updated_at, id LIMIT $3",
            vec![after.ts.into(), after.id.into(), (limit as i64).into()],
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|s| {
                let cursor = cursor_of(s.updated_at, s.id);
                let change = ChatSessionChange {
                    cursor: cursor.encode(),
                    op: ChangeOp::Updated,
                    session_id: s.id,
                    session: Some(ChatSession(s)),
                };
                (cursor, change)
            })
            .collect())
    }

    async fn rows(
        &self,
        tx: &DatabaseTransaction,
        events: &[Arc<LiveEvent>],
    ) -> ApiResult<Vec<(Cursor, ChatSessionChange)>> {
        let mut current: HashMap<Uuid, chat_sessions::Model> = select_raw::<chat_sessions::Entity>(
            tx,
            "SELECT * FROM chat.chat_sessions WHERE id = ANY($1)",
            vec![event_ids(events).into()],
        )
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
        // One change per conversation, at its last event of the batch.
        let mut last: HashMap<Uuid, usize> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            last.insert(e.id, i);
        }
        let mut changes = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if last[&e.id] != i {
                continue;
            }
            let session = current.remove(&e.id);
            if session.is_none() && e.op != Op::Delete {
                // Deleted later in the same batch's transaction, or not
                // visible: nothing to say.
                continue;
            }
            let op = if e.op != Op::Delete
                && events.iter().any(|x| x.id == e.id && x.op == Op::Insert)
            {
                ChangeOp::Created
            } else {
                e.op.into()
            };
            changes.push((
                e.cursor(),
                ChatSessionChange {
                    cursor: e.cursor().encode(),
                    op,
                    session_id: e.id,
                    session: session.map(ChatSession),
                },
            ));
        }
        Ok(changes)
    }
}
