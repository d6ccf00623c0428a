//! **Not part of the API.** Internals exposed for the fuzz targets in the repository's `fuzz/`
//! directory, behind the `fuzzing` cargo feature. No semver guarantee: anything here may change
//! or go away in any release.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{AttributeMap, Error};

/// How [`Lucia`](crate::Lucia) turns a row's attribute columns into the application's type.
pub fn decode_attributes<T: DeserializeOwned>(attributes: AttributeMap) -> Result<T, Error> {
    crate::auth::from_attribute_map(attributes)
}

/// How [`Lucia`](crate::Lucia) turns the application's attributes into columns, refusing the
/// `reserved` column names.
pub fn encode_attributes(attributes: &impl Serialize, reserved: &[&str]) -> Result<AttributeMap, Error> {
    crate::auth::to_attribute_map(attributes, reserved)
}
