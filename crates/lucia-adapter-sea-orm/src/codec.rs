//! Column values between SQL and JSON: attribute maps travel as JSON objects (as Lucia v2's
//! rows do), typed by the column kinds read from the entity.

use lucia::{AdapterError, AttributeMap};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Value};
use sea_orm::{DbErr, QueryResult, TryGetable};
use serde_json::Value as Json;

use crate::schema::{Column, Kind, Table};

/// Reads every column of `table` from a row that holds them in `table.columns`' order from
/// position `first` on (by position: the statements are built from the same list, and a
/// lookup by name would format and compare every column's alias). The columns named in
/// `fixed` come back on their own, in that order (`None` if the table has no such column),
/// the others as the attribute map.
pub(crate) fn decode_row<const N: usize>(
    table: &Table,
    row: &QueryResult,
    first: usize,
    fixed: [&str; N],
) -> Result<([Option<Json>; N], AttributeMap), AdapterError> {
    let mut values = [const { None }; N];
    let mut attributes = AttributeMap::new();
    for (i, column) in table.columns.iter().enumerate() {
        let value = decode(column, row, first + i)?;
        match fixed.iter().position(|name| *name == column.name) {
            Some(slot) => values[slot] = Some(value),
            None => {
                attributes.insert(column.name.clone(), value);
            }
        }
    }
    Ok((values, attributes))
}

fn decode(column: &Column, row: &QueryResult, index: usize) -> Result<Json, AdapterError> {
    fn get<T: TryGetable + Into<Json>>(column: &Column, row: &QueryResult, index: usize) -> Result<Json, AdapterError> {
        row.try_get_by_index::<Option<T>>(index)
            .map(|value| value.map_or(Json::Null, Into::into))
            .map_err(|e| AdapterError::InvalidAttributes(format!("cannot read column `{}`: {e}", column.name)))
    }
    match column.kind {
        Kind::Text => get::<String>(column, row, index),
        Kind::I8 => get::<i8>(column, row, index),
        Kind::I16 => get::<i16>(column, row, index),
        Kind::I32 => get::<i32>(column, row, index),
        Kind::I64 => get::<i64>(column, row, index),
        Kind::U8 => get::<u8>(column, row, index),
        Kind::U16 => get::<u16>(column, row, index),
        Kind::U32 => get::<u32>(column, row, index),
        Kind::U64 => get::<u64>(column, row, index),
        Kind::F32 => get::<f32>(column, row, index),
        Kind::F64 => get::<f64>(column, row, index),
        Kind::Bool => get::<bool>(column, row, index),
        Kind::Json => get::<Json>(column, row, index),
        Kind::Bytes => get::<Vec<u8>>(column, row, index),
        Kind::Enum => get::<String>(column, row, index),
        #[cfg(feature = "with-uuid")]
        Kind::Uuid => get_as(column, row, index, |id: uuid::Uuid| id.hyphenated().to_string()),
        // Exact text, as `rust_decimal`'s serde writes it.
        #[cfg(feature = "with-rust_decimal")]
        Kind::Decimal => get_as(column, row, index, |decimal: rust_decimal::Decimal| decimal.to_string()),
        #[cfg(any(feature = "with-chrono", feature = "with-time"))]
        Kind::Date | Kind::Time | Kind::DateTime | Kind::DateTimeTz => temporal::decode(column, row, index),
    }
}

/// A column read as `T` and shown as the text `show` makes of it.
#[cfg(any(feature = "with-chrono", feature = "with-time", feature = "with-uuid", feature = "with-rust_decimal"))]
fn get_as<T: TryGetable>(
    column: &Column,
    row: &QueryResult,
    index: usize,
    show: impl FnOnce(T) -> String,
) -> Result<Json, AdapterError> {
    row.try_get_by_index::<Option<T>>(index)
        .map(|value| value.map_or(Json::Null, |value| Json::String(show(value))))
        .map_err(|e| AdapterError::InvalidAttributes(format!("cannot read column `{}`: {e}", column.name)))
}

/// `column`'s value as SQL, cast to the column's enum type where it has one (PostgreSQL
/// refuses text for an enum column).
pub(crate) fn encode_expr(column: &Column, value: &Json) -> Result<Expr, AdapterError> {
    let value = Expr::val(encode(column, value)?);
    Ok(match &column.enum_name {
        Some(name) => value.as_enum(Alias::new(name)),
        None => value,
    })
}

/// `column` as selected: an enum column cast to text (on PostgreSQL; a no-op elsewhere), so it
/// reads as a string.
pub(crate) fn select_expr(column: &Column, column_ref: Expr) -> Expr {
    match column.enum_name {
        Some(_) => column_ref.as_enum(Alias::new("text")),
        None => column_ref,
    }
}

/// Converts a JSON attribute value into a SQL value for `column`, or says why it does not fit.
pub(crate) fn encode(column: &Column, value: &Json) -> Result<Value, AdapterError> {
    let mismatch =
        || AdapterError::InvalidAttributes(format!("column `{}` ({:?}) cannot hold {value}", column.name, column.kind));
    if value.is_null() {
        if !column.nullable {
            return Err(AdapterError::InvalidAttributes(format!("column `{}` cannot be null", column.name)));
        }
        return Ok(null_of(column.kind));
    }
    let int = || value.as_i64().ok_or_else(mismatch);
    let uint = || value.as_u64().ok_or_else(mismatch);
    Ok(match column.kind {
        Kind::Text => {
            let text = value.as_str().ok_or_else(mismatch)?;
            // PostgreSQL cannot store NUL in text; refuse it everywhere so backends agree.
            if text.contains('\0') {
                return Err(AdapterError::InvalidAttributes(format!(
                    "column `{}` cannot hold a NUL character",
                    column.name
                )));
            }
            Value::String(Some(text.to_owned()))
        }
        Kind::I8 => Value::TinyInt(Some(int()?.try_into().map_err(|_| mismatch())?)),
        Kind::I16 => Value::SmallInt(Some(int()?.try_into().map_err(|_| mismatch())?)),
        Kind::I32 => Value::Int(Some(int()?.try_into().map_err(|_| mismatch())?)),
        Kind::I64 => Value::BigInt(Some(int()?)),
        Kind::U8 => Value::TinyUnsigned(Some(uint()?.try_into().map_err(|_| mismatch())?)),
        Kind::U16 => Value::SmallUnsigned(Some(uint()?.try_into().map_err(|_| mismatch())?)),
        Kind::U32 => Value::Unsigned(Some(uint()?.try_into().map_err(|_| mismatch())?)),
        Kind::U64 => Value::BigUnsigned(Some(uint()?)),
        // f32 attributes are stored with f32 precision, as the column holds; a number past
        // f32's range would become infinity, which is refused instead.
        Kind::F32 => {
            let narrowed = value.as_f64().ok_or_else(mismatch)? as f32;
            if !narrowed.is_finite() {
                return Err(mismatch());
            }
            Value::Float(Some(narrowed))
        }
        Kind::F64 => Value::Double(Some(value.as_f64().ok_or_else(mismatch)?)),
        Kind::Bool => Value::Bool(Some(value.as_bool().ok_or_else(mismatch)?)),
        Kind::Json => Value::Json(Some(Box::new(value.clone()))),
        Kind::Bytes => {
            let bytes = value.as_array().ok_or_else(mismatch)?;
            let bytes = bytes.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or_else(mismatch));
            Value::Bytes(Some(bytes.collect::<Result<_, _>>()?))
        }
        Kind::Enum => Value::String(Some(value.as_str().ok_or_else(mismatch)?.to_owned())),
        #[cfg(feature = "with-uuid")]
        Kind::Uuid => Value::Uuid(Some(value.as_str().and_then(|text| text.parse().ok()).ok_or_else(mismatch)?)),
        // A string (rust_decimal's serde form) or a JSON number, read from its exact text.
        #[cfg(feature = "with-rust_decimal")]
        Kind::Decimal => {
            use rust_decimal::Decimal;
            let text = match value {
                Json::String(text) => text.clone(),
                Json::Number(number) => number.to_string(),
                _ => return Err(mismatch()),
            };
            let decimal =
                text.parse::<Decimal>().or_else(|_| Decimal::from_scientific(&text)).map_err(|_| mismatch())?;
            Value::Decimal(Some(decimal))
        }
        #[cfg(any(feature = "with-chrono", feature = "with-time"))]
        Kind::Date | Kind::Time | Kind::DateTime | Kind::DateTimeTz => {
            value.as_str().and_then(|text| temporal::encode(column.kind, text)).ok_or_else(mismatch)?
        }
    })
}

fn null_of(kind: Kind) -> Value {
    match kind {
        Kind::Text => Value::String(None),
        Kind::I8 => Value::TinyInt(None),
        Kind::I16 => Value::SmallInt(None),
        Kind::I32 => Value::Int(None),
        Kind::I64 => Value::BigInt(None),
        Kind::U8 => Value::TinyUnsigned(None),
        Kind::U16 => Value::SmallUnsigned(None),
        Kind::U32 => Value::Unsigned(None),
        Kind::U64 => Value::BigUnsigned(None),
        Kind::F32 => Value::Float(None),
        Kind::F64 => Value::Double(None),
        Kind::Bool => Value::Bool(None),
        Kind::Json => Value::Json(None),
        Kind::Bytes => Value::Bytes(None),
        Kind::Enum => Value::String(None),
        #[cfg(feature = "with-uuid")]
        Kind::Uuid => Value::Uuid(None),
        #[cfg(feature = "with-rust_decimal")]
        Kind::Decimal => Value::Decimal(None),
        #[cfg(any(feature = "with-chrono", feature = "with-time"))]
        Kind::Date | Kind::Time | Kind::DateTime | Kind::DateTimeTz => temporal::null(kind),
    }
}

/// Dates and times as ISO 8601 / RFC 3339 text, the forms `chrono`'s serde writes and reads
/// (`2024-02-29`, `13:45:00.5`, `2024-02-29T13:45:00.123456`, `2024-02-29T12:45:00Z`), through
/// `chrono` when the `with-chrono` feature is on.
#[cfg(feature = "with-chrono")]
mod temporal {
    use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat};
    use lucia::AdapterError;
    use sea_orm::QueryResult;
    use sea_orm::sea_query::Value;
    use serde_json::Value as Json;

    use super::get_as;
    use crate::schema::{Column, Kind};

    const DATE_TIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

    pub(super) fn decode(column: &Column, row: &QueryResult, index: usize) -> Result<Json, AdapterError> {
        match column.kind {
            Kind::Date => get_as(column, row, index, |date: NaiveDate| date.to_string()),
            Kind::Time => get_as(column, row, index, |time: NaiveTime| time.to_string()),
            Kind::DateTime => get_as(column, row, index, |at: NaiveDateTime| at.format(DATE_TIME).to_string()),
            _ => {
                get_as(column, row, index, |at: DateTime<FixedOffset>| at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
        }
    }

    pub(super) fn encode(kind: Kind, text: &str) -> Option<Value> {
        Some(match kind {
            Kind::Date => Value::ChronoDate(Some(text.parse().ok()?)),
            Kind::Time => Value::ChronoTime(Some(text.parse().ok()?)),
            Kind::DateTime => Value::ChronoDateTime(Some(text.parse().ok()?)),
            _ => Value::ChronoDateTimeWithTimeZone(Some(DateTime::parse_from_rfc3339(text).ok()?)),
        })
    }

    pub(super) fn null(kind: Kind) -> Value {
        match kind {
            Kind::Date => Value::ChronoDate(None),
            Kind::Time => Value::ChronoTime(None),
            Kind::DateTime => Value::ChronoDateTime(None),
            _ => Value::ChronoDateTimeWithTimeZone(None),
        }
    }
}

/// The same text forms as with `chrono` (see above), through `time` when only the `with-time`
/// feature is on.
#[cfg(all(feature = "with-time", not(feature = "with-chrono")))]
mod temporal {
    use lucia::AdapterError;
    use sea_orm::QueryResult;
    use sea_orm::sea_query::Value;
    use serde_json::Value as Json;
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

    use super::get_as;
    use crate::schema::{Column, Kind};

    const DATE: &[time::format_description::BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");
    const TIME: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[hour]:[minute]:[second][optional [.[subsecond]]]");
    const DATE_TIME: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");

    pub(super) fn decode(column: &Column, row: &QueryResult, index: usize) -> Result<Json, AdapterError> {
        // Formatting a valid value into these descriptions cannot fail; `unwrap_or_default`
        // keeps a panic out of the request path all the same.
        match column.kind {
            Kind::Date => get_as(column, row, index, |date: Date| date.format(DATE).unwrap_or_default()),
            Kind::Time => get_as(column, row, index, |time: Time| time.format(TIME).unwrap_or_default()),
            Kind::DateTime => {
                get_as(column, row, index, |at: PrimitiveDateTime| at.format(DATE_TIME).unwrap_or_default())
            }
            _ => get_as(column, row, index, |at: OffsetDateTime| at.format(&Rfc3339).unwrap_or_default()),
        }
    }

    pub(super) fn encode(kind: Kind, text: &str) -> Option<Value> {
        Some(match kind {
            Kind::Date => Value::TimeDate(Some(Date::parse(text, DATE).ok()?)),
            Kind::Time => Value::TimeTime(Some(Time::parse(text, TIME).ok()?)),
            Kind::DateTime => Value::TimeDateTime(Some(PrimitiveDateTime::parse(text, DATE_TIME).ok()?)),
            _ => Value::TimeDateTimeWithTimeZone(Some(OffsetDateTime::parse(text, &Rfc3339).ok()?)),
        })
    }

    pub(super) fn null(kind: Kind) -> Value {
        match kind {
            Kind::Date => Value::TimeDate(None),
            Kind::Time => Value::TimeTime(None),
            Kind::DateTime => Value::TimeDateTime(None),
            _ => Value::TimeDateTimeWithTimeZone(None),
        }
    }
}

/// Whether `table`'s id column `column` is a uuid column (ids are text otherwise).
fn is_uuid(table: &Table, column: &str) -> bool {
    #[cfg(feature = "with-uuid")]
    return table.column(column).is_some_and(|column| column.kind == Kind::Uuid);
    #[cfg(not(feature = "with-uuid"))]
    return {
        let _ = (table, column);
        false
    };
}

/// An id for the id column `column` (`id`, `user_id`) in a condition: text, or a uuid for a
/// uuid column, where text that is no uuid becomes NULL, which no row matches (an unknown id
/// finds nothing, as with text ids).
pub(crate) fn id_value(table: &Table, column: &str, id: &str) -> Value {
    #[cfg(feature = "with-uuid")]
    if is_uuid(table, column) {
        return Value::Uuid(id.parse().ok());
    }
    let _ = (table, column);
    Value::String(Some(id.to_owned()))
}

/// An id for the id column `column` in an insert; text that is no uuid for a uuid column names
/// no user that can exist: [`AdapterError::InvalidUserId`].
pub(crate) fn id_insert(table: &Table, column: &str, id: &str) -> Result<Expr, AdapterError> {
    if is_uuid(table, column) && matches!(id_value(table, column, id), Value::Uuid(None)) {
        return Err(AdapterError::InvalidUserId);
    }
    Ok(Expr::val(id_value(table, column, id)))
}

/// The id column `column` read from `row` at `index`: text, or a uuid as its hyphenated text.
pub(crate) fn read_id(table: &Table, column: &str, row: &QueryResult, index: usize) -> Result<String, DbErr> {
    #[cfg(feature = "with-uuid")]
    if is_uuid(table, column) {
        return Ok(row.try_get_by_index::<uuid::Uuid>(index)?.hyphenated().to_string());
    }
    let _ = (table, column);
    row.try_get_by_index::<String>(index)
}

/// A text column's value.
pub(crate) fn read_text(value: Option<Json>, name: &str) -> Result<String, AdapterError> {
    match value {
        Some(Json::String(text)) => Ok(text),
        other => Err(AdapterError::InvalidAttributes(format!("column `{name}` is not text: {other:?}"))),
    }
}

/// A nullable text column's value.
pub(crate) fn read_optional_text(value: Option<Json>, name: &str) -> Result<Option<String>, AdapterError> {
    match value {
        Some(Json::Null) | None => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(other) => Err(AdapterError::InvalidAttributes(format!("column `{name}` is not text: {other}"))),
    }
}

/// A millisecond column's value.
pub(crate) fn read_millis(value: Option<Json>, name: &str) -> Result<i64, AdapterError> {
    value.and_then(|value| value.as_i64()).ok_or_else(|| {
        AdapterError::InvalidAttributes(format!("column `{name}` is not a millisecond count in i64 range"))
    })
}

/// A count column's value.
pub(crate) fn read_count(value: Option<Json>, name: &str) -> Result<u32, AdapterError> {
    value
        .and_then(|value| value.as_u64())
        .and_then(|value| u32::try_from(value).ok())
        .ok_or_else(|| AdapterError::InvalidAttributes(format!("column `{name}` is not a count in u32 range")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_f32_column_holds_f32_precision_and_refuses_what_f32_cannot() {
        let column = Column { name: "score".into(), kind: Kind::F32, nullable: false, unique: false, enum_name: None };
        assert_eq!(encode(&column, &json!(0.1)).unwrap(), Value::Float(Some(0.1)));
        assert_eq!(encode(&column, &json!(f64::from(f32::MAX))).unwrap(), Value::Float(Some(f32::MAX)));
        for too_big in [json!(1e39), json!(-1e300), json!(f64::MAX)] {
            let error = encode(&column, &too_big).expect_err("refused");
            assert!(matches!(&error, AdapterError::InvalidAttributes(m) if m.contains("`score`")), "{error:?}");
        }
    }
}
