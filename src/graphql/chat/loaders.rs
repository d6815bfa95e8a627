//! Dataloaders of the chat domain: each session's first page of messages,
//! one statement for every session of a response (per distinct page size and
//! direction), and sessions by id (a message's `session`). They read through
//! the request's transaction, so RLS applies.

use super::inputs::message_sort_keys;
use crate::graphql::context::RequestTx;
use crate::graphql::error::ApiError;
use crate::graphql::loading::row_loader;
use crate::graphql::pagination::{children_pages, ChildPage, SortDirection};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions, Request};
use entity::chat::{chat_messages, chat_sessions};
use sea_orm::Condition;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Every chat loader of one request, over its transaction.
pub struct ChatLoader {
    tx: RequestTx,
}

/// The chat dataloader as stored in the request data.
pub type ChatDataLoader = DataLoader<ChatLoader>;

/// Adds the chat dataloader over `tx` to `request`.
pub fn register_loaders(request: Request, tx: &RequestTx) -> Request {
    request.data(DataLoader::new(ChatLoader { tx: tx.clone() }, tokio::spawn))
}

/// The first `limit` messages of `session` in timestamp `direction`. Keys
/// with the same `limit` and `direction` load together in one statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessagesKey {
    /// The session.
    pub session: Uuid,
    /// Page size.
    pub limit: u64,
    /// Timestamp order.
    pub direction: SortDirection,
}

/// Loads a session's message page through the request's chat dataloader
/// (an empty page when the session has no visible messages).
pub async fn load_messages(
    ctx: &Context<'_>,
    key: MessagesKey,
) -> async_graphql::Result<ChildPage<chat_messages::Model>> {
    let loader = ctx
        .data::<ChatDataLoader>()
        .map_err(|_| ApiError::Internal("chat loader not registered".into()).extend())?;
    Ok(loader
        .load_one(key)
        .await
        .map_err(|e| e.as_ref().extend())?
        .unwrap_or_default())
}

/// Loads a session through the request's chat dataloader (None when it is
/// not visible).
pub async fn load_session(
    ctx: &Context<'_>,
    id: Uuid,
) -> async_graphql::Result<Option<chat_sessions::Model>> {
    crate::graphql::loading::load_one::<ChatLoader, _>(ctx, SessionById(id)).await
}

row_loader!(
    /// A session by id (visible when it is the viewer's).
    ChatLoader: SessionById => chat_sessions by Id(id)
);

impl Loader<MessagesKey> for ChatLoader {
    type Value = ChildPage<chat_messages::Model>;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[MessagesKey],
    ) -> Result<HashMap<MessagesKey, Self::Value>, Self::Error> {
        let mut groups: HashMap<(u64, SortDirection), Vec<Uuid>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.limit, key.direction))
                .or_default()
                .push(key.session);
        }
        let tx = self.tx.get().await.map_err(Arc::new)?;
        let mut out = HashMap::with_capacity(keys.len());
        for ((limit, direction), sessions) in groups {
            let mut pages = children_pages::<chat_messages::Entity, _>(
                tx,
                chat_messages::Column::SessionId,
                &sessions,
                &message_sort_keys(direction),
                limit,
                Condition::all(),
            )
            .await
            .map_err(Arc::new)?;
            for session in sessions {
                let page = pages.remove(&session).unwrap_or_default();
                out.insert(
                    MessagesKey {
                        session,
                        limit,
                        direction,
                    },
                    page,
                );
            }
        }
        Ok(out)
    }
}
