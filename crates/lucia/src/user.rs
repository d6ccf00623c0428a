//! Users as the application sees them.

/// A user: its id and the application's typed attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User<U> {
    /// The user id.
    pub user_id: String,
    /// The attribute columns, deserialized into the application's type.
    pub attributes: U,
}
