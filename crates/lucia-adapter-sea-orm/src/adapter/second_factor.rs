//! Second factors ([`SecondFactorAdapter`]): TOTP rows and recovery codes, in two tables
//! added to an adapter that has a token table (where pending sign-ins live), before any
//! passkey tables.

use std::sync::Arc;

use lucia::{AdapterError, DatabaseTotp, SecondFactorAdapter};
use sea_orm::EntityTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use super::shape::{
    CheckedTable, HasAllTables, HasSecondFactorTables, HasSessionTable, HasTokenTable, HasUserTables, ListTables,
    SecondFactorTables, TokenTable,
};
use super::{
    SeaOrmAdapter, SessionsOnly, UsersOnly, WithPasskeys, WithSessions, WithTokens, Write, alias, database,
    delete_where_statement, insert, is_unknown_user, number, select_where, text,
};
use crate::codec::{decode_row, id_insert, id_value, read_millis, read_text};
use crate::schema::{self, SchemaError, Table};

/// The shape of a [`SeaOrmAdapter`] with second-factor tables beside a token table
/// (`Shape` is [`WithTokens`]`<WithSessions>` or [`WithTokens`]`<UsersOnly>`): it implements
/// what `Shape` does and [`SecondFactorAdapter`]. Built by
/// [`SeaOrmAdapter::with_second_factor`]; passkey tables can be added after it
/// ([`SeaOrmAdapter::with_passkeys`]).
#[derive(Debug, Clone)]
pub struct WithSecondFactor<Shape> {
    tables: Shape,
    second_factor: SecondFactorTables,
}

/// Users, keys, sessions, tokens and second factors.
pub type SeaOrmAdapterWithSecondFactor = SeaOrmAdapter<WithSecondFactor<WithTokens<WithSessions>>>;

/// The user half of a split deployment, with tokens and second factors.
pub type SeaOrmUserAdapterWithSecondFactor = SeaOrmAdapter<WithSecondFactor<WithTokens<UsersOnly>>>;

/// Users, keys, sessions, tokens, second factors and passkeys:
/// `SeaOrmAdapter<WithPasskeys<WithSecondFactor<WithTokens<WithSessions>>>>`, which implements
/// [`Adapter`](lucia::Adapter), [`TokenAdapter`](lucia::TokenAdapter), [`SecondFactorAdapter`]
/// and [`PasskeyAdapter`](lucia::PasskeyAdapter).
pub type SeaOrmAdapterWithSecondFactorAndPasskeys =
    SeaOrmAdapter<WithPasskeys<WithSecondFactor<WithTokens<WithSessions>>>>;

/// The user half of a split deployment with tokens, second factors and passkeys:
/// `SeaOrmAdapter<WithPasskeys<WithSecondFactor<WithTokens<UsersOnly>>>>`, which implements
/// [`UserAdapter`](lucia::UserAdapter), [`TokenAdapter`](lucia::TokenAdapter),
/// [`SecondFactorAdapter`] and [`PasskeyAdapter`](lucia::PasskeyAdapter) (for
/// `lucia::SplitAdapter<SeaOrmUserAdapterWithSecondFactorAndPasskeys, SessionStore>`).
pub type SeaOrmUserAdapterWithSecondFactorAndPasskeys =
    SeaOrmAdapter<WithPasskeys<WithSecondFactor<WithTokens<UsersOnly>>>>;

impl<Shape: HasUserTables> HasUserTables for WithSecondFactor<Shape> {
    fn user_tables(&self) -> &UsersOnly {
        self.tables.user_tables()
    }

    fn token_table(&self) -> Option<&TokenTable> {
        self.tables.token_table()
    }

    fn second_factor_tables(&self) -> Option<&SecondFactorTables> {
        Some(&self.second_factor)
    }
}

impl<Shape: HasTokenTable> HasSecondFactorTables for WithSecondFactor<Shape> {
    fn second_factor(&self) -> &SecondFactorTables {
        &self.second_factor
    }
}

impl<Shape: HasTokenTable> HasTokenTable for WithSecondFactor<Shape> {
    fn tokens(&self) -> &TokenTable {
        self.tables.tokens()
    }
}

impl<Shape: ListTables + HasUserTables> ListTables for WithSecondFactor<Shape> {
    fn list_tables(&self) -> Vec<CheckedTable<'_>> {
        let mut tables = self.tables.list_tables();
        let user = &self.tables.user_tables().user;
        tables.push(CheckedTable(&self.second_factor.totp, Some(user)));
        tables.push(CheckedTable(&self.second_factor.recovery_code, Some(user)));
        tables
    }
}

impl<Shape: HasSessionTable> HasSessionTable for WithSecondFactor<Shape> {
    fn session_table(&self) -> &SessionsOnly {
        self.tables.session_table()
    }
}

impl<Shape: HasAllTables> HasAllTables for WithSecondFactor<Shape> {
    fn all_tables(&self) -> &WithSessions {
        self.tables.all_tables()
    }
}

impl<Shape: HasUserTables + Clone> SeaOrmAdapter<WithTokens<Shape>> {
    /// Adds the second-factor tables (TOTP secrets, recovery codes): the adapter then also
    /// implements [`SecondFactorAdapter`], for [`lucia::LuciaBuilder::second_factor`].
    ///
    /// Checks the entities now: `totp` needs `user_id` (of the user table's `id` type: text,
    /// or a uuid), text `encrypted_secret`, boolean `confirmed` and 64-bit `last_step`;
    /// `recovery_code` text `id` and `user_id` as `totp`'s.
    /// [`LuciaSecondFactorMigration`](crate::LuciaSecondFactorMigration) creates both (with
    /// [`LuciaMigration::second_factor_migration`](crate::LuciaMigration::second_factor_migration),
    /// of the user table's id type). The adapter deletes a user's rows with the user itself;
    /// the migration's `ON DELETE CASCADE` is for other code (Lucia v2) deleting users.
    ///
    /// Passkey tables, if any, come after: `.with_second_factor(..)?.with_passkeys(..)?`.
    ///
    /// ```
    /// # use lucia_adapter_sea_orm::{SeaOrmAdapter, SeaOrmAdapterWithSecondFactor, Tables, entity};
    /// # fn demo(db: sea_orm::DatabaseConnection) -> Result<(), lucia_adapter_sea_orm::SchemaError> {
    /// let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    /// let adapter: SeaOrmAdapterWithSecondFactor = SeaOrmAdapter::new(db, tables)?
    ///     .with_tokens(entity::token::Entity)?
    ///     .with_second_factor(entity::totp::Entity, entity::recovery_code::Entity)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_second_factor<T: EntityTrait, R: EntityTrait>(
        self,
        totp: T,
        recovery_code: R,
    ) -> Result<SeaOrmAdapter<WithSecondFactor<WithTokens<Shape>>>, SchemaError> {
        let second_factor = SecondFactorTables {
            totp: schema::totp_table(totp)?,
            recovery_code: schema::recovery_code_table(recovery_code)?,
        };
        let user = &self.shape.user_tables().user;
        second_factor.totp.require_user_id_of(user)?;
        second_factor.recovery_code.require_user_id_of(user)?;
        Ok(SeaOrmAdapter {
            db: self.db,
            shape: Arc::new(WithSecondFactor { tables: Arc::unwrap_or_clone(self.shape), second_factor }),
        })
    }
}

impl<Shape: HasSecondFactorTables> SeaOrmAdapter<Shape> {
    fn totp(&self) -> &Table {
        &self.shape.second_factor().totp
    }

    fn recovery_codes(&self) -> &Table {
        &self.shape.second_factor().recovery_code
    }
}

impl<Shape: HasSecondFactorTables> SecondFactorAdapter for SeaOrmAdapter<Shape> {
    async fn get_totp(&self, user_id: &str) -> Result<Option<DatabaseTotp>, AdapterError> {
        let table = self.totp();
        self.fetch_one(&select_where(table, "user_id", user_id), |row| {
            let ([user_id, encrypted_secret, confirmed, last_step], _) =
                decode_row(table, row, 0, ["user_id", "encrypted_secret", "confirmed", "last_step"])?;
            Ok(DatabaseTotp {
                user_id: read_text(user_id, "user_id")?,
                encrypted_secret: read_text(encrypted_secret, "encrypted_secret")?,
                confirmed: confirmed
                    .and_then(|value| value.as_bool())
                    .ok_or_else(|| AdapterError::InvalidAttributes("column `confirmed` is not a boolean".into()))?,
                last_step: read_millis(last_step, "last_step")?,
            })
        })
        .await
    }

    /// One upsert on `user_id`.
    async fn set_totp(&self, totp: DatabaseTotp) -> Result<(), AdapterError> {
        let table = self.totp();
        let mut query = insert(
            table,
            vec![
                (alias("user_id"), id_insert(table, "user_id", &totp.user_id)?),
                (alias("encrypted_secret"), text(&totp.encrypted_secret)),
                (alias("confirmed"), Expr::val(totp.confirmed)),
                (alias("last_step"), number(table, "last_step", totp.last_step)?),
            ],
        )?;
        query.on_conflict(
            OnConflict::column(alias("user_id"))
                .update_columns([alias("encrypted_secret"), alias("confirmed"), alias("last_step")])
                .to_owned(),
        );
        match self.execute_statement(&query, Write::Once).await {
            Ok(_) => Ok(()),
            Err(error) if is_unknown_user(&error) => Err(AdapterError::InvalidUserId),
            Err(error) => Err(database(error)),
        }
    }

    /// One `UPDATE ... WHERE last_step < step`, decided by its affected-row count (the step
    /// always changes, so MySQL's "changed rows" count it too).
    async fn use_totp_step(
        &self,
        user_id: &str,
        encrypted_secret: &str,
        step: i64,
        confirm: bool,
    ) -> Result<bool, AdapterError> {
        let table = self.totp();
        let mut update = Query::update();
        update.table(table.table_ref.clone()).value(alias("last_step"), number(table, "last_step", step)?);
        if confirm {
            update.value(alias("confirmed"), Expr::val(true));
        }
        update
            .and_where(Expr::col(alias("user_id")).eq(id_value(table, "user_id", user_id)))
            .and_where(Expr::col(alias("encrypted_secret")).eq(encrypted_secret))
            .and_where(Expr::col(alias("last_step")).lt(step));
        Ok(self.execute(&update, Write::Once).await? == 1)
    }

    /// One transaction: the user's recovery codes, then the TOTP row.
    async fn delete_totp(&self, user_id: &str) -> Result<(), AdapterError> {
        let statements = [
            self.delete_statement(self.recovery_codes(), "user_id", user_id),
            self.delete_statement(self.totp(), "user_id", user_id),
        ];
        self.in_transaction(&statements).await.map_err(|(_, error)| database(error))
    }

    /// One transaction: the old set's deletion, then one insert of the new set. On PostgreSQL
    /// and MySQL the user row is locked first, so that concurrent regenerations take turns:
    /// without it, under `READ COMMITTED` neither sees the other's new set to delete, and both
    /// sets stay (the conformance suite's `concurrent_regenerations_leave_one_set` found that).
    async fn set_recovery_codes(&self, user_id: &str, code_hashes: Vec<String>) -> Result<(), AdapterError> {
        let table = self.recovery_codes();
        let backend = self.backend();
        let mut statements: Vec<_> = self.user_lock(user_id).into_iter().collect();
        statements.push(self.delete_statement(table, "user_id", user_id));
        if !code_hashes.is_empty() {
            let mut query = Query::insert();
            query.into_table(table.table_ref.clone()).columns([alias("id"), alias("user_id")]);
            for hash in &code_hashes {
                let user_id = id_insert(table, "user_id", user_id)?;
                query.values([text(hash), user_id]).map_err(AdapterError::database)?;
            }
            statements.push(backend.build(&query));
        }
        match self.in_transaction(&statements).await {
            Ok(()) => Ok(()),
            Err((_, error)) if is_unknown_user(&error) => Err(AdapterError::InvalidUserId),
            Err((_, error)) => Err(database(error)),
        }
    }

    /// One `DELETE`, decided by its affected-row count.
    async fn consume_recovery_code(&self, user_id: &str, code_hash: &str) -> Result<bool, AdapterError> {
        let mut delete = delete_where_statement(self.recovery_codes(), "id", code_hash);
        delete.and_where(Expr::col(alias("user_id")).eq(id_value(self.recovery_codes(), "user_id", user_id)));
        // `Once`: the row count decides, and a second run after a dead connection would say 0.
        Ok(self.execute(&delete, Write::Once).await? == 1)
    }

    async fn count_recovery_codes(&self, user_id: &str) -> Result<u64, AdapterError> {
        let table = self.recovery_codes();
        let mut query = Query::select();
        query
            .expr(Expr::col(alias("id")).count())
            .from(table.table_ref.clone())
            .and_where(Expr::col(alias("user_id")).eq(id_value(table, "user_id", user_id)));
        let count = self.fetch_one(&query, |row| row.try_get_by_index::<i64>(0).map_err(database)).await?;
        Ok(count.and_then(|count| u64::try_from(count).ok()).unwrap_or(0))
    }
}
