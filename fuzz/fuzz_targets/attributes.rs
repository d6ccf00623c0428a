//! Attribute columns (a JSON map, as adapters hand rows to lucia) decoded into typed
//! attributes, the way `Lucia` does for users and sessions (`lucia::__fuzz::decode_attributes`,
//! behind the `fuzzing` feature), and encoded back.
//!
//! Invariants: no panic; a failure is `Error::InvalidAttributes`; whatever decodes encodes to a
//! map that decodes to the same value; decoding into a map gives the columns unchanged; a
//! reserved column name in what is encoded is refused.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use lucia::__fuzz::{decode_attributes, encode_attributes};
use lucia::{AttributeMap, Error, NoAttributes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    Admin,
    Member { since: i64 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct UserAttributes {
    username: String,
    #[serde(default)]
    age: Option<u8>,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    counts: BTreeMap<String, u64>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SessionAttributes {
    #[serde(default)]
    ip: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

fn round_trip<T>(map: &AttributeMap, reserved: &[&str])
where
    T: serde::de::DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    match decode_attributes::<T>(map.clone()) {
        Ok(value) => match encode_attributes(&value, reserved) {
            Ok(encoded) => {
                assert!(!reserved.iter().any(|name| encoded.contains_key(*name)));
                assert_eq!(decode_attributes::<T>(encoded).unwrap(), value);
            }
            Err(Error::InvalidAttributes(_)) => {
                let value = serde_json::to_value(&value).unwrap();
                let Value::Object(encoded) = value else { panic!("{value} is not a map") };
                assert!(reserved.iter().any(|name| encoded.contains_key(*name)), "refused for no reason");
            }
            Err(other) => panic!("{other:?}"),
        },
        Err(Error::InvalidAttributes(_)) => {}
        Err(other) => panic!("{other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(map) = serde_json::from_slice::<AttributeMap>(data) else { return };
    round_trip::<UserAttributes>(&map, &["id"]);
    round_trip::<SessionAttributes>(&map, &["id", "user_id", "active_expires", "idle_expires"]);
    assert_eq!(decode_attributes::<NoAttributes>(map.clone()).ok(), Some(NoAttributes {}));
    assert_eq!(decode_attributes::<AttributeMap>(map.clone()).ok().as_ref(), Some(&map));
    // `id` is the user table's key, never an attribute column.
    let has_id = map.contains_key("id");
    assert_eq!(encode_attributes(&map, &["id"]).is_err(), has_id);
});
