//! The signed-in viewer: `viewer { ... }` (merged from the domains' viewer
//! fields) and changes to one's own user row.

use crate::auth::Role;
use crate::graphql::context::{require_user, tx, viewer};
use crate::graphql::error::{ApiError, ApiResult, ResultExt};
use async_graphql::{Context, InputObject, MergedObject, Object, SimpleObject};
use entity::public::users;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

/// Root fields about the viewer.
#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// Who is asking, and what the viewer owns (dashboards, activity).
    async fn viewer(&self) -> Viewer {
        Viewer::default()
    }
}

/// The viewer, with fields merged from every domain.
#[derive(MergedObject, Default)]
pub struct Viewer(
    ViewerCore,
    crate::graphql::builder::BuilderViewerFields,
    crate::graphql::lift::LiftViewerFields,
    crate::graphql::chat::ChatViewerFields,
    crate::graphql::prompt_lab::PromptLabViewerFields,
    crate::graphql::analytics::AnalyticsViewerFields,
    // anchor:viewer-fields
);

/// Identity fields of the viewer.
#[derive(Default)]
pub struct ViewerCore;

/// The viewer's role.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewerRole {
    /// Not signed in.
    Anon,
    /// A signed-in user.
    Authenticated,
    /// The service role (bypasses row-level security).
    ServiceRole,
}

impl From<Role> for ViewerRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Anon => ViewerRole::Anon,
            Role::Authenticated => ViewerRole::Authenticated,
            Role::ServiceRole => ViewerRole::ServiceRole,
        }
    }
}

/// An application user (`public.users`).
#[derive(SimpleObject, Clone, Debug)]
pub struct User {
    /// Same id as the identity.
    pub id: Uuid,
    /// Email address.
    pub email: String,
    /// Display name.
    pub full_name: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// When the user signed up.
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::FixedOffset>,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id,
            email: m.email,
            full_name: m.full_name,
            avatar_url: m.avatar_url,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[Object]
impl ViewerCore {
    /// The viewer's user id; null for anon.
    async fn id(&self, ctx: &Context<'_>) -> Option<Uuid> {
        viewer(ctx).user_id
    }

    /// The viewer's role.
    async fn role(&self, ctx: &Context<'_>) -> ViewerRole {
        viewer(ctx).role.into()
    }

    /// The viewer's user row; null for anon.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = viewer(ctx).user_id else {
            return Ok(None);
        };
        load_user(tx(ctx).await.gql()?, id).await.gql()
    }
}

async fn load_user(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<User>> {
    Ok(users::Entity::find_by_id(id).one(db).await?.map(User::from))
}

/// Mutations of the viewer's own user row.
#[derive(Default)]
pub struct ViewerMutation;

/// Changes to the viewer's profile; omitted fields stay as they are.
#[derive(InputObject, Debug)]
pub struct UpdateViewerInput {
    /// New display name (1 to 255 characters).
    pub full_name: Option<String>,
    /// New avatar URL.
    pub avatar_url: Option<String>,
}

/// The result of `updateViewer`.
#[derive(SimpleObject)]
pub struct UpdateViewerPayload {
    /// The changed user.
    pub user: User,
}

#[Object]
impl ViewerMutation {
    /// Changes the viewer's display name or avatar.
    async fn update_viewer(
        &self,
        ctx: &Context<'_>,
        input: UpdateViewerInput,
    ) -> async_graphql::Result<UpdateViewerPayload> {
        let id = require_user(ctx).gql()?;
        update_viewer(tx(ctx).await.gql()?, id, input).await.gql()
    }
}

async fn update_viewer(
    db: &impl ConnectionTrait,
    id: Uuid,
    input: UpdateViewerInput,
) -> ApiResult<UpdateViewerPayload> {
    if let Some(name) = &input.full_name {
        let len = name.trim().chars().count();
        if len == 0 || len > 255 {
            return Err(ApiError::bad_input(
                "fullName",
                "must be 1 to 255 characters",
            ));
        }
    }
    let mut row: users::ActiveModel = users::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("user"))?
        .into();
    if let Some(name) = input.full_name {
        row.full_name = Set(Some(name.trim().to_string()));
    }
    if let Some(url) = input.avatar_url {
        row.avatar_url = Set(Some(url));
    }
    let user = row.update(db).await?;
    Ok(UpdateViewerPayload { user: user.into() })
}
