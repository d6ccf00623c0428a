//! Column values between SQL and JSON: attribute maps travel as JSON objects (as Lucia v2's
//! rows do), typed by the column kinds read from the entity.

use lucia::{AdapterError, AttributeMap};
use sea_orm::sea_query::Value;
use sea_orm::{QueryResult, TryGetable};
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
        // f32 attributes are stored with f32 precision, as the column holds.
        Kind::F32 => Value::Float(Some(value.as_f64().ok_or_else(mismatch)? as f32)),
        Kind::F64 => Value::Double(Some(value.as_f64().ok_or_else(mismatch)?)),
        Kind::Bool => Value::Bool(Some(value.as_bool().ok_or_else(mismatch)?)),
        Kind::Json => Value::Json(Some(Box::new(value.clone()))),
        Kind::Bytes => {
            let bytes = value.as_array().ok_or_else(mismatch)?;
            let bytes = bytes.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or_else(mismatch));
            Value::Bytes(Some(bytes.collect::<Result<_, _>>()?))
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
    }
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
