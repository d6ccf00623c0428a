//! The key layout. For prefix `lucia`, user `u` and session `s`:
//!
//! | key | type | holds | expires |
//! |---|---|---|---|
//! | `lucia:{u}:s:<s>` | hash | the session: `user_id`, `active_expires`, `idle_expires`, and `a:<column>` = JSON per attribute | at `idle_expires` |
//! | `lucia:{u}:sessions` | sorted set | the user's session ids, scored by when each session key expires | with the last of them |
//! | `lucia:sid:<s>` | string | the user id of session `s`, so a session is found from its id alone | with the session |
//! | `lucia:throttle:<k>` | hash | sign-in attempts on key id `k`: `attempts`, `last` (server ms) | an hour (the backoff's `forget_after`) after the last attempt |
//!
//! `{u}` is a hash tag: all of a user's keys live in one slot, so every change to a user's
//! sessions is one script. Ids are percent-encoded where they could end or start a hash tag
//! (`{`, `}`) or clash with the encoding (`%`), so two different ids never share a key; control
//! characters and non-ASCII bytes are encoded too (`percent_encoding` always encodes the
//! latter), so keys stay printable.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// `{`, `}` and `%`, plus control characters (keys stay printable in `redis-cli`).
const ESCAPED: &AsciiSet = &CONTROLS.add(b'%').add(b'{').add(b'}');

/// An id as it appears inside a key.
pub(crate) fn encode(id: &str) -> String {
    utf8_percent_encode(id, ESCAPED).to_string()
}

/// The id an encoded key part stands for (`None` if it is not one this crate wrote).
pub(crate) fn decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(part).decode_utf8().ok().map(Into::into)
}

/// The keys of one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: String) -> Self {
        Self { prefix }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash of session `session_id` of user `user_id`.
    pub(crate) fn session(&self, user_id: &str, session_id: &str) -> String {
        format!("{}{}", self.session_key_prefix(user_id), encode(session_id))
    }

    /// What every session key of `user_id` starts with; the scripts append an encoded id.
    pub(crate) fn session_key_prefix(&self, user_id: &str) -> String {
        format!("{}:{{{}}}:s:", self.prefix, encode(user_id))
    }

    /// The sorted set of `user_id`'s session ids.
    pub(crate) fn user_sessions(&self, user_id: &str) -> String {
        format!("{}:{{{}}}:sessions", self.prefix, encode(user_id))
    }

    /// The session key prefix that goes with a user-sessions key (`None` if `key` is not one).
    pub(crate) fn session_key_prefix_of_index(&self, key: &str) -> Option<String> {
        let tagged = key.strip_prefix(&self.prefix)?.strip_prefix(":{")?.strip_suffix("}:sessions")?;
        Some(format!("{}:{{{tagged}}}:s:", self.prefix))
    }

    /// The pointer from a session id to its user.
    pub(crate) fn session_owner(&self, session_id: &str) -> String {
        self.session_owner_of_encoded(&encode(session_id))
    }

    /// The pointer of an already encoded session id (as the user index holds them).
    pub(crate) fn session_owner_of_encoded(&self, encoded_session_id: &str) -> String {
        format!("{}:sid:{encoded_session_id}", self.prefix)
    }

    /// The sign-in throttle record of a key id (see `RedisThrottleStore`): one key, so one
    /// slot, per account.
    pub(crate) fn throttle(&self, key_id: &str) -> String {
        format!("{}:throttle:{}", self.prefix, encode(key_id))
    }

    /// A `SCAN MATCH` pattern for every user-sessions key of this prefix. Encoded user ids
    /// hold no `}`, so nothing else matches.
    pub(crate) fn user_sessions_pattern(&self) -> String {
        format!("{}:{{*}}:sessions", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_users_keys_share_a_hash_tag_and_ids_cannot_break_out_of_it() {
        let keys = Keys::new("app".into());
        assert_eq!(keys.session("u1", "abc"), "app:{u1}:s:abc");
        assert_eq!(keys.user_sessions("u1"), "app:{u1}:sessions");
        assert_eq!(keys.session_owner("abc"), "app:sid:abc");
        assert_eq!(keys.throttle("email:a{b}"), "app:throttle:email:a%7Bb%7D");
        assert_eq!(keys.session("a}b{", "x}"), "app:{a%7Db%7B}:s:x%7D");
        assert_eq!(keys.session_key_prefix_of_index("app:{a%7Db}:sessions").as_deref(), Some("app:{a%7Db}:s:"));
        assert_eq!(keys.session_key_prefix_of_index("app:sid:x"), None);
    }

    #[test]
    fn encoding_is_one_to_one() {
        for id in ["a%7Db", "a}b", "%", "%25", "ünï{cödé}", "at_MixedCase", "*"] {
            assert_eq!(decode(&encode(id)).as_deref(), Some(id));
        }
        assert_ne!(encode("a%7Db"), encode("a}b"));
    }
}
