//! [`LuciaType`]: the one type an application names.

use lucia::{Adapter, Lucia};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod sealed {
    pub trait Sealed {}
    impl<A, U, S> Sealed for lucia::Lucia<A, U, S> {}
}

/// Implemented by [`Lucia<A, U, S>`](Lucia) and nothing else: it gives the extractors the
/// adapter and attribute types of the application's `Lucia`, so that an application names one
/// type, its `Lucia` alias, and [`AuthRequest<Auth>`](crate::AuthRequest) and
/// [`SignedIn<Auth>`](crate::SignedIn) follow from it.
///
/// ```
/// # #[derive(Clone, serde::Serialize, serde::Deserialize)] struct UserAttributes { username: String }
/// # #[derive(Clone, Default, serde::Serialize, serde::Deserialize)] struct SessionAttributes {}
/// type Auth = lucia::Lucia<lucia::memory::MemoryAdapter, UserAttributes, SessionAttributes>;
/// async fn handler(auth: lucia_axum::AuthRequest<Auth>) { /* ... */ }
/// ```
///
/// It cannot be implemented outside this crate.
pub trait LuciaType: sealed::Sealed + Clone + Send + Sync + 'static {
    /// The adapter, `A`.
    type Adapter: Adapter + 'static;
    /// The user attribute type, `U`.
    type UserAttributes: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// The session attribute type, `S`.
    type SessionAttributes: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// `self`, as the `Lucia` it is.
    fn as_lucia(&self) -> &Lucia<Self::Adapter, Self::UserAttributes, Self::SessionAttributes>;
}

impl<A, U, S> LuciaType for Lucia<A, U, S>
where
    A: Adapter + 'static,
    U: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Adapter = A;
    type UserAttributes = U;
    type SessionAttributes = S;

    fn as_lucia(&self) -> &Self {
        self
    }
}

/// The session type of a [`LuciaType`].
pub(crate) type SessionOf<L> = lucia::Session<<L as LuciaType>::UserAttributes, <L as LuciaType>::SessionAttributes>;
