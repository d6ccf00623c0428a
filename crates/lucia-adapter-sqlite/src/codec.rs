//! Column values between SQLite and JSON. SQLite stores any value in any column, so both
//! directions check the value against the column's declared kind: a write that does not fit
//! is refused before it reaches the database, and a stored value of the wrong type is
//! [`AdapterError::InvalidAttributes`], never a panic or a silently different value.

use lucia::{AdapterError, AttributeMap};
use rusqlite::Row;
use rusqlite::types::{Value as Sql, ValueRef};
use serde_json::{Number, Value as Json};

use crate::schema::{Column, Kind, Table};

fn invalid(message: String) -> AdapterError {
    AdapterError::InvalidAttributes(message)
}

/// Reads one column at `index` of a row as JSON, checked against the column's kind.
pub(crate) fn decode(table: &Table, column: &Column, value: ValueRef<'_>) -> Result<Json, AdapterError> {
    let wrong = |stored: &str| {
        invalid(format!("column `{}` of `{}` ({}) holds {stored}", column.name, table.name, column.declared))
    };
    let text = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| invalid(format!("column `{}` of `{}` holds text that is not UTF-8", column.name, table.name)))
    };
    let real = |value: f64| Number::from_f64(value).map(Json::Number).ok_or_else(|| wrong("a non-finite real"));
    Ok(match (column.kind, value) {
        (_, ValueRef::Null) => Json::Null,
        (Kind::Text, ValueRef::Text(bytes)) => Json::String(text(bytes)?),
        (Kind::Integer, ValueRef::Integer(value)) => Json::from(value),
        (Kind::Real, ValueRef::Integer(value)) => Json::from(value),
        (Kind::Real, ValueRef::Real(value)) => real(value)?,
        (Kind::Bool, ValueRef::Integer(0)) => Json::Bool(false),
        (Kind::Bool, ValueRef::Integer(1)) => Json::Bool(true),
        (Kind::Json, ValueRef::Text(bytes)) => {
            serde_json::from_str(&text(bytes)?).map_err(|_| wrong("text that is not JSON"))?
        }
        (Kind::Blob, ValueRef::Blob(bytes)) => Json::Array(bytes.iter().map(|&b| Json::from(b)).collect()),
        (Kind::Loose, ValueRef::Integer(value)) => Json::from(value),
        (Kind::Loose, ValueRef::Real(value)) => real(value)?,
        (Kind::Loose, ValueRef::Text(bytes)) => Json::String(text(bytes)?),
        (_, ValueRef::Integer(value)) => return Err(wrong(&format!("the integer {value}"))),
        (_, ValueRef::Real(value)) => return Err(wrong(&format!("the real {value}"))),
        (_, ValueRef::Text(_)) => return Err(wrong("text")),
        (_, ValueRef::Blob(_)) => return Err(wrong("a blob")),
    })
}

/// A JSON attribute value as a SQL value for `column`, or why it does not fit. Text may not
/// hold NUL (PostgreSQL cannot store it; refused on every store so that they agree).
pub(crate) fn encode(table: &Table, column: &Column, value: &Json) -> Result<Sql, AdapterError> {
    let mismatch =
        || invalid(format!("column `{}` of `{}` ({}) cannot hold {value}", column.name, table.name, column.declared));
    if value.is_null() {
        if column.not_null {
            return Err(invalid(format!("column `{}` of `{}` cannot be null", column.name, table.name)));
        }
        return Ok(Sql::Null);
    }
    let text = |text: &str| {
        if text.contains('\0') {
            return Err(invalid(format!("column `{}` cannot hold a NUL character", column.name)));
        }
        Ok(Sql::Text(text.to_owned()))
    };
    Ok(match (column.kind, value) {
        (Kind::Text | Kind::Loose, Json::String(value)) => text(value)?,
        (Kind::Integer, Json::Number(number)) => Sql::Integer(number.as_i64().ok_or_else(mismatch)?),
        (Kind::Real, Json::Number(number)) => Sql::Real(number.as_f64().ok_or_else(mismatch)?),
        (Kind::Loose, Json::Number(number)) => match number.as_i64() {
            Some(integer) => Sql::Integer(integer),
            None => Sql::Real(number.as_f64().ok_or_else(mismatch)?),
        },
        (Kind::Bool, Json::Bool(value)) => Sql::Integer(i64::from(*value)),
        (Kind::Json, value) => text(&value.to_string())?,
        (Kind::Blob, Json::Array(bytes)) => Sql::Blob(
            bytes
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or_else(mismatch))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(mismatch()),
    })
}

/// `(column, value)` pairs of the attribute columns, refusing unknown columns and the table's
/// own Lucia columns (`reserved`).
pub(crate) fn encode_attributes<'t>(
    table: &'t Table,
    attributes: &AttributeMap,
    reserved: &[&str],
) -> Result<Vec<(&'t Column, Sql)>, AdapterError> {
    attributes
        .iter()
        .map(|(name, value)| {
            if reserved.contains(&name.as_str()) {
                return Err(invalid(format!("`{name}` cannot be set as an attribute")));
            }
            let column =
                table.column(name).ok_or_else(|| invalid(format!("table `{}` has no column `{name}`", table.name)))?;
            Ok((column, encode(table, column, value)?))
        })
        .collect()
}

/// Reads columns `start..` of a row: the Lucia columns named in `lucia` through `take` (by
/// their position in `lucia`), every other column into the returned attribute map. The Lucia
/// columns never go through the map: this runs for every validated request.
pub(crate) fn decode_split(
    table: &Table,
    row: &Row<'_>,
    start: usize,
    lucia: &[&str],
    mut take: impl FnMut(usize, &Column, ValueRef<'_>) -> Result<(), AdapterError>,
) -> Result<AttributeMap, AdapterError> {
    let mut attributes = AttributeMap::new();
    for (offset, column) in table.columns.iter().enumerate() {
        let value = row.get_ref(start + offset).map_err(AdapterError::database)?;
        match lucia.iter().position(|name| *name == column.name) {
            Some(index) => take(index, column, value)?,
            None => {
                attributes.insert(column.name.clone(), decode(table, column, value)?);
            }
        }
    }
    Ok(attributes)
}

/// A Lucia text column (`id`, `user_id`): text, not null.
pub(crate) fn required_text(column: &Column, value: ValueRef<'_>) -> Result<String, AdapterError> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| invalid(format!("column `{}` holds text that is not UTF-8", column.name))),
        _ => Err(invalid(format!("column `{}` is not text", column.name))),
    }
}

/// A Lucia millisecond column: an integer, not null.
pub(crate) fn required_millis(column: &Column, value: ValueRef<'_>) -> Result<i64, AdapterError> {
    match value {
        ValueRef::Integer(value) => Ok(value),
        _ => Err(invalid(format!("column `{}` is not a millisecond count in i64 range", column.name))),
    }
}

/// A text column read directly (the key table's columns).
pub(crate) fn text_at(row: &Row<'_>, index: usize, name: &str) -> Result<Option<String>, AdapterError> {
    match row.get_ref(index).map_err(AdapterError::database)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(|text| Some(text.to_owned()))
            .map_err(|_| invalid(format!("column `{name}` holds text that is not UTF-8"))),
        _ => Err(invalid(format!("column `{name}` is not text"))),
    }
}

/// An integer column read directly (the token table's `expires` and `attempts`): not null.
pub(crate) fn integer_at(row: &Row<'_>, index: usize, name: &str) -> Result<i64, AdapterError> {
    optional_integer_at(row, index, name)?.ok_or_else(|| invalid(format!("column `{name}` is not an integer")))
}

/// A nullable integer column read directly (a passkey's `last_used_at`).
pub(crate) fn optional_integer_at(row: &Row<'_>, index: usize, name: &str) -> Result<Option<i64>, AdapterError> {
    match row.get_ref(index).map_err(AdapterError::database)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(value) => Ok(Some(value)),
        _ => Err(invalid(format!("column `{name}` is not an integer"))),
    }
}

/// A boolean column read directly (a passkey's backup flags): 0 or 1, as [`encode`] stores
/// booleans.
pub(crate) fn bool_at(row: &Row<'_>, index: usize, name: &str) -> Result<bool, AdapterError> {
    match row.get_ref(index).map_err(AdapterError::database)? {
        ValueRef::Integer(0) => Ok(false),
        ValueRef::Integer(1) => Ok(true),
        _ => Err(invalid(format!("column `{name}` is not a boolean (0 or 1)"))),
    }
}
