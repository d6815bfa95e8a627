//! `chat.profiles`: the chat profile of an auth user, created and synced by
//! the `on_auth_user_profile_sync` trigger on `auth.users`.

use sea_orm::entity::prelude::*;

/// One user's profile. Users may update only `full_name`, `avatar_url` and
/// `preferences`; `subscription_tier` changes through `chat.update_user_tier`
/// and `usage_stats` through `chat.track_user_usage`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "profiles")]
pub struct Model {
    /// Same id as `auth.users`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub avatar_url: Option<String>,
    /// `free`, `pro` or `enterprise`.
    pub subscription_tier: String,
    /// Object with the sections `ui`, `session` and `model`.
    #[sea_orm(column_type = "JsonBinary")]
    pub preferences: Json,
    /// Lifetime usage totals (messages, tokens, sessions, active minutes).
    #[sea_orm(column_type = "JsonBinary")]
    pub usage_stats: Json,
    pub last_active: Option<DateTimeWithTimeZone>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `chat.profiles`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The identity row (`profiles_id_fkey`).
    #[sea_orm(
        belongs_to = "crate::auth::users::Entity",
        from = "Column::Id",
        to = "crate::auth::users::Column::Id",
        on_delete = "Cascade"
    )]
    AuthUser,
    /// The user's activity log.
    #[sea_orm(has_many = "super::user_activity_log::Entity")]
    UserActivityLog,
    /// The user's conversations.
    #[sea_orm(has_many = "super::chat_sessions::Entity")]
    ChatSessions,
    /// The user's messages (in all sessions).
    #[sea_orm(has_many = "super::chat_messages::Entity")]
    ChatMessages,
    /// The user's daily usage rows.
    #[sea_orm(has_many = "super::user_usage_daily::Entity")]
    UserUsageDaily,
}

impl Related<crate::auth::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuthUser.def()
    }
}

impl Related<super::user_activity_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserActivityLog.def()
    }
}

impl Related<super::chat_sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChatSessions.def()
    }
}

impl Related<super::chat_messages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChatMessages.def()
    }
}

impl Related<super::user_usage_daily::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserUsageDaily.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
