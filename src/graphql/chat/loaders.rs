//! Dataloaders of the chat domain: each session's first page of messages,
//! one statement for every session of a response (per distinct page size and
//! direction), and sessions by id (a message's `session`). They read through
//! the request's transaction, so RLS applies.

use super::inputs::message_sort_keys;
use crate::graphql::context::RequestTx;
use crate::graphql::loading::{children_loader, row_loader, ChildRelation};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Request};
use entity::chat::{chat_messages, chat_sessions};
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

children_loader!(ChatLoader);

/// A conversation's messages, in timestamp order (the direction is the
/// argument).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessagesOfSession;

impl ChildRelation for MessagesOfSession {
    type Entity = chat_messages::Entity;
    type Args = SortDirection;
    fn parent_column() -> chat_messages::Column {
        chat_messages::Column::SessionId
    }
    fn sort_keys(direction: &SortDirection) -> Vec<SortKey<chat_messages::Column>> {
        message_sort_keys(*direction)
    }
}
