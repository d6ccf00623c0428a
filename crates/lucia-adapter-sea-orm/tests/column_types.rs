//! Attribute columns of every type SeaORM maps (dates and times through `chrono` and `time`,
//! uuid, decimal, enums, JSON, bytes, and their nullable variants) round-tripping through an
//! application's typed attributes on each backend, values at the edges included:
//! `seaorm_types_sqlite::…`, `seaorm_types_postgres::…`, `seaorm_types_mysql::…`.

mod common;

use common::{Backend, with_store};
use lucia::{CreateUser, Lucia, UserAdapter};
use lucia_adapter_sea_orm::{LuciaMigration, SeaOrmAdapter, Tables, entity};
use sea_orm::sea_query::StringLen;
use sea_orm::{DatabaseConnection, EntityTrait};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use serde::{Deserialize, Serialize};

/// A user table with a column of each type, in `chrono` types.
mod chrono_user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "user")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub born: ChronoDate,
        pub alarm: ChronoTime,
        pub local: ChronoDateTime,
        pub created_at: ChronoDateTimeWithTimeZone,
        pub seen_at: Option<ChronoDateTimeUtc>,
        pub born_maybe: Option<ChronoDate>,
        pub alarm_maybe: Option<ChronoTime>,
        pub local_maybe: Option<ChronoDateTime>,
        pub reference: Uuid,
        pub reference_maybe: Option<Uuid>,
        #[sea_orm(column_type = "Decimal(Some((30, 10)))")]
        pub balance: Decimal,
        #[sea_orm(column_type = "Decimal(Some((30, 10)))", nullable)]
        pub balance_maybe: Option<Decimal>,
        pub role: super::Role,
        pub role_maybe: Option<super::Role>,
        pub tier: super::Tier,
        pub tier_maybe: Option<super::Tier>,
        pub level: super::Level,
        pub level_maybe: Option<super::Level>,
        pub prefs: Json,
        pub prefs_maybe: Option<Json>,
        pub avatar: Vec<u8>,
        pub avatar_maybe: Option<Vec<u8>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A database enum (PostgreSQL `CREATE TYPE role AS ENUM`, MySQL `ENUM`), string values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "role")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "member")]
    Member,
}

/// An enum stored as text in a string column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[sea_orm(string_value = "free")]
    Free,
    #[sea_orm(string_value = "pro")]
    Pro,
}

/// An integer-backed enum: its serde form is the stored number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "i32", db_type = "Integer")]
#[serde(into = "i32", try_from = "i32")]
pub enum Level {
    Low = 1,
    High = 9,
}

impl From<Level> for i32 {
    fn from(level: Level) -> i32 {
        level as i32
    }
}

impl TryFrom<i32> for Level {
    type Error = String;
    fn try_from(value: i32) -> Result<Self, String> {
        match value {
            1 => Ok(Self::Low),
            9 => Ok(Self::High),
            _ => Err(format!("no level {value}")),
        }
    }
}

/// The application's typed attributes for [`chrono_user`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ChronoAttributes {
    born: chrono::NaiveDate,
    alarm: chrono::NaiveTime,
    local: chrono::NaiveDateTime,
    created_at: chrono::DateTime<chrono::FixedOffset>,
    seen_at: Option<chrono::DateTime<chrono::Utc>>,
    born_maybe: Option<chrono::NaiveDate>,
    alarm_maybe: Option<chrono::NaiveTime>,
    local_maybe: Option<chrono::NaiveDateTime>,
    reference: uuid::Uuid,
    reference_maybe: Option<uuid::Uuid>,
    balance: rust_decimal::Decimal,
    balance_maybe: Option<rust_decimal::Decimal>,
    role: Role,
    role_maybe: Option<Role>,
    tier: Tier,
    tier_maybe: Option<Tier>,
    level: Level,
    level_maybe: Option<Level>,
    prefs: serde_json::Value,
    prefs_maybe: Option<serde_json::Value>,
    avatar: Vec<u8>,
    avatar_maybe: Option<Vec<u8>>,
}

/// A user table of date and time columns in `time` types.
mod time_user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "time_user")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub born: TimeDate,
        pub alarm: TimeTime,
        pub local: TimeDateTime,
        pub created_at: TimeDateTimeWithTimeZone,
        pub created_maybe: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

// The adapter's JSON forms of dates and times are ISO 8601 / RFC 3339, as `chrono` writes them;
// with `time`, the application names those formats.
time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");
time::serde::format_description!(iso_time, Time, "[hour]:[minute]:[second][optional [.[subsecond]]]");
time::serde::format_description!(
    iso_date_time,
    PrimitiveDateTime,
    "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
);

/// The application's typed attributes for [`time_user`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TimeAttributes {
    #[serde(with = "iso_date")]
    born: time::Date,
    #[serde(with = "iso_time")]
    alarm: time::Time,
    #[serde(with = "iso_date_time")]
    local: time::PrimitiveDateTime,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    created_maybe: Option<time::OffsetDateTime>,
}

/// The user table of `user` with Lucia's key and session tables, made from the entities.
async fn create_tables<E: EntityTrait + Default>(db: &DatabaseConnection, user: E) {
    let tables = Tables { user, key: entity::key::Entity, session: entity::session::Entity };
    let migration = LuciaMigration::from_entities(tables).unwrap();
    migration.up(&SchemaManager::new(db)).await.unwrap();
}

/// Values at the edges each backend keeps: sub-second digits where its column keeps them
/// (PostgreSQL microseconds, SQLite's text all of them, MySQL's `DATETIME`/`TIME`/`TIMESTAMP`
/// as SeaORM creates them none), a time zone other than UTC, a decimal of 28 digits (all `rust_decimal` holds) (SQLite
/// reads decimals through `f64`, as SeaORM does: 15 significant digits there).
fn chrono_values(backend: sea_orm::DbBackend) -> ChronoAttributes {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
    let sub_second = backend != sea_orm::DbBackend::MySql;
    let nanos = if sub_second { 123_456_000 } else { 0 };
    let local = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap().and_hms_nano_opt(23, 59, 58, nanos).unwrap();
    let balance = match backend {
        sea_orm::DbBackend::Sqlite => "-12345.678901",
        _ => "-1234567890123456789.012345678",
    };
    ChronoAttributes {
        born: NaiveDate::from_ymd_opt(1815, 12, 10).unwrap(),
        alarm: NaiveTime::from_hms_nano_opt(6, 30, 5, nanos).unwrap(),
        local,
        // 23:30 in India is 18:00 UTC: the instant must survive, whatever the zone it reads in.
        created_at: DateTime::parse_from_rfc3339(&format!(
            "2024-02-29T23:30:00{}+05:30",
            if sub_second { ".654321" } else { "" }
        ))
        .unwrap(),
        seen_at: Some(DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()),
        born_maybe: None,
        alarm_maybe: Some(NaiveTime::from_hms_opt(0, 0, 0).unwrap()),
        local_maybe: Some(NaiveDateTime::parse_from_str("2000-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap()),
        reference: "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap(),
        reference_maybe: None,
        balance: balance.parse().unwrap(),
        balance_maybe: Some("0.0000000001".parse().unwrap()),
        role: Role::Admin,
        role_maybe: None,
        tier: Tier::Pro,
        tier_maybe: Some(Tier::Free),
        level: Level::High,
        level_maybe: None,
        prefs: serde_json::json!({ "theme": "dark", "n": [1, 2.5, null] }),
        prefs_maybe: None,
        avatar: vec![0, 1, 254, 255],
        avatar_maybe: Some(Vec::new()),
    }
}

async fn chrono_round_trip(db: DatabaseConnection) {
    let backend = db.get_database_backend();
    create_tables(&db, chrono_user::Entity).await;
    let tables = Tables { user: chrono_user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(db.clone(), tables).unwrap();
    // The start-up check takes every type as the migration made it.
    adapter.check().await.unwrap();
    let auth = Lucia::builder(adapter.clone()).user_attributes::<ChronoAttributes>().build();

    let written = chrono_values(backend);
    let user = auth.create_user(CreateUser::new(written.clone())).await.unwrap();
    let read = auth.get_user(&user.user_id).await.unwrap().attributes;
    assert_eq!(read, written);
    // Equal as instants; PostgreSQL and MySQL give it back in UTC, SQLite as written.
    assert_eq!(read.created_at.to_utc().to_rfc3339(), written.created_at.to_utc().to_rfc3339());

    // The session-and-user read of every request (one joined query) reads them all the same.
    let session = auth.create_session(lucia::CreateSession::new(&user.user_id, Default::default())).await.unwrap();
    assert_eq!(auth.validate_session(session.token.expose_secret()).await.unwrap().user.attributes, written);

    // Every nullable column set, then back to NULL.
    let mut all_set = written.clone();
    all_set.born_maybe = Some(written.born);
    all_set.reference_maybe = Some(uuid::Uuid::nil());
    all_set.role_maybe = Some(Role::Member);
    all_set.level_maybe = Some(Level::Low);
    all_set.prefs_maybe = Some(serde_json::json!([]));
    all_set.balance_maybe = Some("99.5".parse().unwrap());
    assert_eq!(auth.update_user_attributes(&user.user_id, &all_set).await.unwrap().attributes, all_set);
    assert_eq!(auth.get_user(&user.user_id).await.unwrap().attributes, all_set);
    assert_eq!(auth.update_user_attributes(&user.user_id, &written).await.unwrap().attributes, written);
    assert_eq!(auth.get_user(&user.user_id).await.unwrap().attributes, written);

    // The same row through SeaORM's own typed entity: the adapter wrote what SeaORM reads.
    let row = chrono_user::Entity::find_by_id(user.user_id.clone()).one(&db).await.unwrap().unwrap();
    assert_eq!((row.born, row.local, row.role, row.level), (written.born, written.local, written.role, written.level));
    assert_eq!(row.balance, written.balance);

    // Text that is not of the column's type is refused before the database sees it.
    for bad in [
        serde_json::json!({ "born": "1815-13-10" }),
        serde_json::json!({ "alarm": "25:00:00" }),
        serde_json::json!({ "local": "2024-02-29 noon" }),
        serde_json::json!({ "created_at": "2024-02-29T23:30:00" }),
        serde_json::json!({ "reference": "not-a-uuid" }),
        serde_json::json!({ "balance": "12,5" }),
        serde_json::json!({ "role": 1 }),
        serde_json::json!({ "born": null }),
    ] {
        let attributes = bad.as_object().cloned().unwrap();
        let error = adapter.update_user(&user.user_id, attributes).await.expect_err("refused");
        assert!(matches!(error, lucia::AdapterError::InvalidAttributes(_)), "{bad}: {error:?}");
    }
    assert_eq!(auth.get_user(&user.user_id).await.unwrap().attributes, written);
}

async fn time_round_trip(db: DatabaseConnection) {
    use time::macros::{date, datetime, time};
    let backend = db.get_database_backend();
    create_tables(&db, time_user::Entity).await;
    let tables = Tables { user: time_user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(db, tables).unwrap();
    adapter.check().await.unwrap();
    let auth = Lucia::builder(adapter).user_attributes::<TimeAttributes>().build();

    let sub_second = backend != sea_orm::DbBackend::MySql;
    let written = TimeAttributes {
        born: date!(1969 - 07 - 20),
        alarm: if sub_second { time!(20:17:40.5) } else { time!(20:17:40) },
        local: if sub_second { datetime!(2038-01-19 03:14:07.999999) } else { datetime!(2038-01-19 03:14:07) },
        created_at: if sub_second {
            datetime!(2024-10-27 01:30:00.25 -07:00)
        } else {
            datetime!(2024-10-27 01:30:00 -07:00)
        },
        created_maybe: None,
    };
    let user = auth.create_user(CreateUser::new(written.clone())).await.unwrap();
    assert_eq!(auth.get_user(&user.user_id).await.unwrap().attributes, written);
    let later = TimeAttributes { created_maybe: Some(datetime!(2024-01-01 00:00:00 UTC)), ..written };
    auth.update_user_attributes(&user.user_id, &later).await.unwrap();
    assert_eq!(auth.get_user(&user.user_id).await.unwrap().attributes, later);
}

macro_rules! backend_tests {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn chrono_uuid_decimal_enum_json_bytes_round_trip() {
                with_store($backend, chrono_round_trip).await;
            }

            #[tokio::test]
            async fn time_crate_dates_and_times_round_trip() {
                with_store($backend, time_round_trip).await;
            }
        }
    };
}

backend_tests!(seaorm_types_sqlite, Backend::Sqlite);
backend_tests!(seaorm_types_postgres, Backend::Postgres);
backend_tests!(seaorm_types_mysql, Backend::MySql);
