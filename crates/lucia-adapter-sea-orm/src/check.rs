//! The start-up check ([`SeaOrmAdapter::check`](crate::SeaOrmAdapter::check)): the entities
//! against the live database's tables, columns, column types, nullability, unique indexes and
//! foreign keys.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::schema::{Kind, SchemaError, Table};

/// The database does not have what the adapter's entities describe, or could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The entities and the database disagree (see the `Database*` variants of
    /// [`SchemaError`]).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The database's catalog could not be read.
    #[error("could not read the database's tables")]
    Database(#[source] DbErr),
}

/// A column as the database has it.
struct LiveColumn {
    name: String,
    /// Lower-case: `data_type` on PostgreSQL and MySQL/MariaDB (the enum's name for a
    /// PostgreSQL enum), the declared type on SQLite.
    data_type: String,
    /// Whether it allows `NULL` (never for a primary key column, even on SQLite, where a
    /// non-integer one allows it unless declared `NOT NULL`: Lucia never writes one).
    nullable: bool,
}

/// Checks that `table` exists with every column of its entity, of a type the column's kind
/// can be read from and written to, nullable exactly when the entity's is, with a primary key
/// or unique index for each of the table's unique column sets, and, if `references` is given,
/// a foreign key from its `user_id` to that (user) table.
pub(crate) async fn table(
    db: &DatabaseConnection,
    table: &Table,
    references: Option<&Table>,
) -> Result<(), CheckError> {
    let backend = db.get_database_backend();
    let columns = live_columns(db, &table.name).await?;
    if columns.is_empty() {
        return Err(SchemaError::DatabaseTableMissing { table: table.name.clone() }.into());
    }
    for column in &table.columns {
        let live = columns.iter().find(|live| live.name == column.name).ok_or_else(|| {
            SchemaError::DatabaseColumnMissing { table: table.name.clone(), column: column.name.clone() }
        })?;
        if !holds(backend, column.kind, &live.data_type) {
            return Err(SchemaError::DatabaseColumnType {
                table: table.name.clone(),
                column: column.name.clone(),
                entity: format!("{:?}", column.kind),
                database: live.data_type.clone(),
            }
            .into());
        }
        if live.nullable && !column.nullable {
            let (table, column) = (table.name.clone(), column.name.clone());
            return Err(SchemaError::DatabaseColumnNullable { table, column }.into());
        }
        if !live.nullable && column.nullable {
            let (table, column) = (table.name.clone(), column.name.clone());
            return Err(SchemaError::DatabaseColumnNotNull { table, column }.into());
        }
    }
    let indexes = unique_indexes(db, &table.name).await?;
    for required in &table.unique {
        // Any unique index on some of the columns keeps the set unique; one on an expression
        // or on part of the rows (`WHERE`) does not count.
        if !indexes.iter().any(|index| !index.is_empty() && index.iter().all(|column| required.contains(column))) {
            let columns = required.join(", ");
            return Err(SchemaError::DatabaseUniqueIndexMissing { table: table.name.clone(), columns }.into());
        }
    }
    if let Some(user) = references {
        let keys = foreign_keys(db, &table.name).await?;
        if !keys.iter().any(|[column, target]| column == "user_id" && *target == user.name) {
            return Err(SchemaError::DatabaseForeignKeyMissing {
                table: table.name.clone(),
                references: user.name.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// The rows of a catalog query on `table`, each as its `N` columns' text.
async fn rows<const N: usize>(db: &DatabaseConnection, sql: &str, table: &str) -> Result<Vec<[String; N]>, CheckError> {
    let backend = db.get_database_backend();
    let statement = Statement::from_sql_and_values(backend, sql, [table.into()]);
    let rows = db.query_all_raw(statement).await.map_err(CheckError::Database)?;
    rows.iter()
        .map(|row| {
            // Catalog text columns differ in type by server (MySQL 8 returns some as binary).
            let text = |index| {
                row.try_get_by_index::<String>(index).or_else(|_| {
                    row.try_get_by_index::<Vec<u8>>(index).map(|b| String::from_utf8_lossy(&b).into_owned())
                })
            };
            let mut values: [String; N] = std::array::from_fn(|_| String::new());
            for (index, value) in values.iter_mut().enumerate() {
                *value = text(index)?;
            }
            Ok(values)
        })
        .collect::<Result<_, DbErr>>()
        .map_err(CheckError::Database)
}

async fn live_columns(db: &DatabaseConnection, table: &str) -> Result<Vec<LiveColumn>, CheckError> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT column_name::text, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name::text ELSE data_type::text END, \
             is_nullable::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1"
        }
        DbBackend::MySql => {
            "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR), CAST(is_nullable AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?"
        }
        _ => {
            "SELECT name, type, CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 'YES' ELSE 'NO' END FROM pragma_table_info(?)"
        }
    };
    let rows = rows(db, sql, table).await?;
    Ok(rows
        .into_iter()
        .map(|[name, data_type, nullable]| LiveColumn {
            name,
            data_type: data_type.to_lowercase(),
            nullable: nullable == "YES",
        })
        .collect())
}

/// The column sets of `table`'s primary key and unique indexes. An index on an expression
/// shows an empty column name among its columns; partial indexes are left out.
async fn unique_indexes(db: &DatabaseConnection, table: &str) -> Result<Vec<Vec<String>>, CheckError> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT i.relname::text, COALESCE(a.attname::text, '') FROM pg_index x \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_class i ON i.oid = x.indexrelid \
             CROSS JOIN LATERAL unnest(x.indkey) AS k(attnum) \
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE x.indisunique AND x.indpred IS NULL AND n.nspname = current_schema() AND t.relname = $1"
        }
        DbBackend::MySql => {
            "SELECT CAST(index_name AS CHAR), CAST(COALESCE(column_name, '') AS CHAR) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 0"
        }
        // A rowid primary key (`INTEGER PRIMARY KEY`) has no index: its columns come from
        // the table's own list.
        _ => {
            "SELECT l.name, COALESCE(i.name, '') FROM pragma_index_list(?1) AS l JOIN pragma_index_info(l.name) AS i \
             WHERE l.\"unique\" = 1 AND l.partial = 0 \
             UNION ALL SELECT 'primary key', name FROM pragma_table_info(?1) WHERE pk > 0"
        }
    };
    let mut indexes: Vec<(String, Vec<String>)> = Vec::new();
    for [index, column] in rows(db, sql, table).await? {
        match indexes.iter_mut().find(|(name, _)| *name == index) {
            Some((_, columns)) => columns.push(column),
            None => indexes.push((index, vec![column])),
        }
    }
    // An expression makes the index no use for a set of columns.
    Ok(indexes.into_iter().filter(|(_, columns)| !columns.iter().any(String::is_empty)).map(|(_, c)| c).collect())
}

/// `(column, referenced table)` of each foreign key of `table`.
async fn foreign_keys(db: &DatabaseConnection, table: &str) -> Result<Vec<[String; 2]>, CheckError> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT a.attname::text, target.relname::text FROM pg_constraint c \
             JOIN pg_class source ON source.oid = c.conrelid \
             JOIN pg_namespace n ON n.oid = source.relnamespace \
             JOIN pg_class target ON target.oid = c.confrelid \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.contype = 'f' AND n.nspname = current_schema() AND source.relname = $1"
        }
        DbBackend::MySql => {
            "SELECT CAST(column_name AS CHAR), CAST(referenced_table_name AS CHAR) \
             FROM information_schema.key_column_usage \
             WHERE table_schema = DATABASE() AND table_name = ? AND referenced_table_name IS NOT NULL"
        }
        _ => "SELECT \"from\", \"table\" FROM pragma_foreign_key_list(?)",
    };
    rows(db, sql, table).await
}

/// Whether a column the database declares `data_type` can hold the entity's `kind`.
fn holds(backend: DbBackend, kind: Kind, data_type: &str) -> bool {
    let t = data_type;
    let any = |names: &[&str]| names.contains(&t);
    // SQLite keeps whatever type name the table was declared with; read it as SQLite does
    // (type affinity: "INT" anywhere is an integer, "CHAR"/"CLOB"/"TEXT" text, and so on),
    // and also SeaORM's names (`date_text`, `uuid_text`, `real_decimal`).
    let contains = |parts: &[&str]| parts.iter().any(|part| t.contains(part));
    match backend {
        DbBackend::Postgres => match kind {
            Kind::Text => any(&["text", "character varying", "character", "citext"]),
            // 8-bit integers are `smallint` on PostgreSQL, as SeaORM makes them.
            Kind::I8 | Kind::U8 | Kind::I16 => any(&["smallint", "integer", "bigint"]),
            Kind::U16 | Kind::I32 => any(&["integer", "bigint"]),
            Kind::U32 | Kind::I64 | Kind::U64 => any(&["bigint"]),
            Kind::F32 => any(&["real", "double precision"]),
            Kind::F64 => any(&["double precision"]),
            Kind::Bool => any(&["boolean"]),
            Kind::Json => any(&["json", "jsonb"]),
            Kind::Bytes => any(&["bytea"]),
            // A PostgreSQL enum shows as its type's name; any enum or text column will do.
            Kind::Enum => !is_builtin_postgres(t) || any(&["text", "character varying"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::Date => any(&["date"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::Time => any(&["time without time zone"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::DateTime => any(&["timestamp without time zone"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::DateTimeTz => any(&["timestamp with time zone"]),
            #[cfg(feature = "with-uuid")]
            Kind::Uuid => any(&["uuid"]),
            #[cfg(feature = "with-rust_decimal")]
            Kind::Decimal => any(&["numeric", "money"]),
        },
        DbBackend::MySql => match kind {
            Kind::Text => any(&["char", "varchar", "tinytext", "text", "mediumtext", "longtext"]),
            Kind::I8 | Kind::U8 => any(&["tinyint", "smallint", "mediumint", "int", "bigint"]),
            Kind::I16 | Kind::U16 => any(&["smallint", "mediumint", "int", "bigint"]),
            Kind::I32 | Kind::U32 => any(&["int", "bigint"]),
            Kind::I64 | Kind::U64 => any(&["bigint"]),
            Kind::F32 => any(&["float", "double"]),
            Kind::F64 => any(&["double"]),
            // `BOOL` is `TINYINT(1)`.
            Kind::Bool => any(&["tinyint"]),
            // MariaDB's `JSON` is `LONGTEXT` with a check.
            Kind::Json => any(&["json", "longtext"]),
            Kind::Bytes => any(&["binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"]),
            Kind::Enum => any(&["enum", "char", "varchar", "text"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::Date => any(&["date"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::Time => any(&["time"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::DateTime | Kind::DateTimeTz => any(&["datetime", "timestamp"]),
            // The 16 bytes, as SeaORM makes `uuid` columns there.
            #[cfg(feature = "with-uuid")]
            Kind::Uuid => any(&["binary", "varbinary"]),
            #[cfg(feature = "with-rust_decimal")]
            Kind::Decimal => any(&["decimal"]),
        },
        _ => match kind {
            Kind::Text | Kind::Enum => contains(&["char", "clob", "text"]),
            Kind::I8 | Kind::I16 | Kind::I32 | Kind::I64 | Kind::U8 | Kind::U16 | Kind::U32 | Kind::U64 => {
                contains(&["int"])
            }
            Kind::F32 | Kind::F64 => contains(&["real", "floa", "doub"]),
            Kind::Bool => contains(&["bool", "int"]),
            Kind::Json => contains(&["json", "text"]),
            Kind::Bytes => contains(&["blob", "binary"]) || t.is_empty(),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::Date => contains(&["date", "char", "clob", "text"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::Time => contains(&["time", "char", "clob", "text"]),
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            Kind::DateTime | Kind::DateTimeTz => contains(&["date", "time", "char", "clob", "text"]),
            #[cfg(feature = "with-uuid")]
            Kind::Uuid => contains(&["uuid", "blob", "binary"]),
            #[cfg(feature = "with-rust_decimal")]
            Kind::Decimal => contains(&["real", "decimal", "numeric", "money"]),
        },
    }
}

/// PostgreSQL's own type names as `information_schema.columns.data_type` gives them (enum
/// columns give their type's name instead).
fn is_builtin_postgres(data_type: &str) -> bool {
    data_type.contains(' ')
        || matches!(
            data_type,
            "text"
                | "smallint"
                | "integer"
                | "bigint"
                | "real"
                | "numeric"
                | "boolean"
                | "json"
                | "jsonb"
                | "bytea"
                | "uuid"
                | "date"
                | "money"
                | "inet"
                | "cidr"
                | "array"
                | "xml"
                | "interval"
        )
}
