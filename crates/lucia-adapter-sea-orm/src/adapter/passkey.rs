//! [`PasskeyAdapter`] on a [`SeaOrmAdapter`] with passkey tables ([`WithPasskeys`]).

use lucia::{AdapterError, DatabasePasskey, PasskeyAdapter, PasskeyChallenge, PasskeyUse, SignInMethodDeletion};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, QueryResult, TransactionTrait};
use serde_json::Value as Json;

use super::shape::{HasUserTables, PasskeyTables};
use super::{
    SWEEP_BATCH, SeaOrmAdapter, Table, WithPasskeys, Write, alias, database, delete_expired_batch,
    delete_where_statement, finish, insert, number, retry_deadlocks, select_where, text,
};
use crate::codec::{decode_row, encode_expr, id_insert, id_value, read_millis, read_optional_text, read_text};

const PASSKEY_COLUMNS: [&str; 9] =
    ["id", "user_id", "name", "credential", "counter", "backup_eligible", "backup_state", "created_at", "last_used_at"];
const CHALLENGE_COLUMNS: [&str; 4] = ["id", "user_id", "state", "expires"];

fn read_bool(value: Option<Json>, name: &str) -> Result<bool, AdapterError> {
    match value {
        Some(Json::Bool(value)) => Ok(value),
        // MySQL/MariaDB booleans are TINYINT(1).
        Some(Json::Number(number)) if number.as_u64().is_some_and(|n| n <= 1) => Ok(number.as_u64() == Some(1)),
        _ => Err(AdapterError::InvalidAttributes(format!("column `{name}` is not a boolean"))),
    }
}

fn passkey_from_row(table: &Table, row: &QueryResult) -> Result<DatabasePasskey, AdapterError> {
    let ([id, user_id, name, credential, counter, backup_eligible, backup_state, created_at, last_used_at], _) =
        decode_row(table, row, 0, PASSKEY_COLUMNS)?;
    let counter = counter
        .and_then(|value| value.as_u64())
        .and_then(|value| u32::try_from(value).ok())
        .ok_or_else(|| AdapterError::InvalidAttributes("column `counter` is not a 32-bit unsigned count".into()))?;
    let last_used_at = match last_used_at {
        None | Some(Json::Null) => None,
        value => Some(read_millis(value, "last_used_at")?),
    };
    Ok(DatabasePasskey {
        id: read_text(id, "id")?,
        user_id: read_text(user_id, "user_id")?,
        name: read_text(name, "name")?,
        credential: read_text(credential, "credential")?,
        counter,
        backup_eligible: read_bool(backup_eligible, "backup_eligible")?,
        backup_state: read_bool(backup_state, "backup_state")?,
        created_at: read_millis(created_at, "created_at")?,
        last_used_at,
    })
}

fn challenge_from_row(table: &Table, row: &QueryResult) -> Result<PasskeyChallenge, AdapterError> {
    let ([id, user_id, state, expires], _) = decode_row(table, row, 0, CHALLENGE_COLUMNS)?;
    Ok(PasskeyChallenge {
        id: read_text(id, "id")?,
        user_id: read_optional_text(user_id, "user_id")?,
        state: read_text(state, "state")?,
        expires: read_millis(expires, "expires")?,
    })
}

impl<Shape: HasUserTables> SeaOrmAdapter<WithPasskeys<Shape>> {
    fn passkey_tables(&self) -> &PasskeyTables {
        &self.shape.passkeys
    }

    /// Deletes the challenge in `transaction` and returns it, if it was there. PostgreSQL and
    /// SQLite do it in one `DELETE ... RETURNING`; MySQL has no `RETURNING`, so the row is
    /// locked and read first (a concurrent taker waits, then finds it gone).
    async fn take_challenge(
        &self,
        transaction: &DatabaseTransaction,
        challenge_id: &str,
    ) -> Result<Option<QueryResult>, DbErr> {
        let table = &self.passkey_tables().challenge;
        let mut delete = delete_where_statement(table, "id", challenge_id);
        if self.backend() != DbBackend::MySql {
            // The table's columns in its entity's order, which `challenge_from_row` reads.
            delete.returning(Query::returning().columns(table.columns.iter().map(|column| alias(&column.name))));
            return transaction.query_one(&delete).await;
        }
        let mut select = select_where(table, "id", challenge_id);
        select.lock_exclusive();
        let Some(row) = transaction.query_one(&select).await? else { return Ok(None) };
        transaction.execute(&delete).await?;
        Ok(Some(row))
    }

    async fn try_take_challenge(&self, challenge_id: &str) -> Result<Option<QueryResult>, ((), DbErr)> {
        let transaction = self.rerun_on_dead_connection(|| self.db.begin()).await.map_err(|error| ((), error))?;
        let outcome = self.take_challenge(&transaction, challenge_id).await.map_err(|error| ((), error));
        finish(transaction, outcome).await
    }
}

impl<Shape: HasUserTables> PasskeyAdapter for SeaOrmAdapter<WithPasskeys<Shape>> {
    async fn insert_passkey(&self, passkey: DatabasePasskey) -> Result<(), AdapterError> {
        let table = &self.passkey_tables().passkey;
        let last_used_at = match passkey.last_used_at {
            Some(at) => number(table, "last_used_at", at)?,
            None => Expr::val(sea_orm::Value::BigInt(None)),
        };
        let statement = insert(
            table,
            vec![
                (alias("id"), text(&passkey.id)),
                (alias("user_id"), id_insert(table, "user_id", &passkey.user_id)?),
                (alias("name"), text(&passkey.name)),
                (alias("credential"), text(&passkey.credential)),
                (alias("counter"), number(table, "counter", passkey.counter.into())?),
                (alias("backup_eligible"), Expr::val(passkey.backup_eligible)),
                (alias("backup_state"), Expr::val(passkey.backup_state)),
                (alias("created_at"), number(table, "created_at", passkey.created_at)?),
                (alias("last_used_at"), last_used_at),
            ],
        )?;
        match self.execute_statement(&statement, Write::Once).await {
            Ok(_) => Ok(()),
            Err(error) => {
                let duplicate = Some(AdapterError::DuplicateKeyId);
                Err(self.write_failure(table, &passkey.id, error, duplicate, &Default::default()).await)
            }
        }
    }

    async fn get_passkey(&self, passkey_id: &str) -> Result<Option<DatabasePasskey>, AdapterError> {
        let table = &self.passkey_tables().passkey;
        self.fetch_one(&select_where(table, "id", passkey_id), |row| passkey_from_row(table, row)).await
    }

    async fn get_user_passkeys(&self, user_id: &str) -> Result<Vec<DatabasePasskey>, AdapterError> {
        let table = &self.passkey_tables().passkey;
        let mut query = select_where(table, "user_id", user_id);
        query.order_by(alias("created_at"), Order::Asc).order_by(alias("id"), Order::Asc);
        self.fetch_all(&query, |row| passkey_from_row(table, row)).await
    }

    /// One conditional `UPDATE`: `WHERE id = ? AND (counter < new OR (counter = 0 AND new = 0))`.
    async fn record_passkey_use(&self, passkey_id: &str, passkey_use: PasskeyUse) -> Result<bool, AdapterError> {
        let table = &self.passkey_tables().passkey;
        let new = number(table, "counter", passkey_use.counter.into())?;
        let advances = if passkey_use.counter == 0 {
            Expr::col(alias("counter")).eq(0)
        } else {
            Expr::col(alias("counter")).lt(new.clone())
        };
        let mut update = Query::update();
        update
            .table(table.table_ref.clone())
            .value(alias("credential"), text(&passkey_use.credential))
            .value(alias("counter"), new)
            .value(alias("backup_state"), Expr::val(passkey_use.backup_state))
            .value(alias("last_used_at"), number(table, "last_used_at", passkey_use.used_at)?)
            .and_where(Expr::col(alias("id")).eq(passkey_id))
            .and_where(advances);
        Ok(self.execute(&update, Write::Once).await? == 1)
    }

    async fn rename_passkey(&self, user_id: &str, passkey_id: &str, name: &str) -> Result<bool, AdapterError> {
        let table = &self.passkey_tables().passkey;
        let mut owned = select_where(table, "id", passkey_id);
        owned.and_where(Expr::col(alias("user_id")).eq(id_value(table, "user_id", user_id)));
        // MySQL/MariaDB count only changed rows, so a rename to the same name would look like
        // a missing passkey: the row is looked up instead.
        let mut update = Query::update();
        update
            .table(table.table_ref.clone())
            .value(alias("name"), text(name))
            .and_where(Expr::col(alias("id")).eq(passkey_id))
            .and_where(Expr::col(alias("user_id")).eq(id_value(table, "user_id", user_id)));
        self.execute(&update, Write::Idempotent).await?;
        Ok(self.fetch_one(&owned, |_| Ok(())).await?.is_some())
    }

    async fn delete_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let table = &self.passkey_tables().passkey;
        self.delete_sign_in_method(table, user_id, passkey_id, true, uncounted_providers).await
    }

    async fn insert_passkey_challenge(&self, challenge: PasskeyChallenge) -> Result<(), AdapterError> {
        let table = &self.passkey_tables().challenge;
        let user_id = match &challenge.user_id {
            Some(user_id) => id_insert(table, "user_id", user_id)?,
            // A NULL of the column's type (text, or uuid for uuid user ids).
            None => match table.column("user_id") {
                Some(column) => encode_expr(column, &Json::Null)?,
                None => return Err(AdapterError::InvalidAttributes("no column `user_id`".into())),
            },
        };
        let statement = insert(
            table,
            vec![
                (alias("id"), text(&challenge.id)),
                (alias("user_id"), user_id),
                (alias("state"), text(&challenge.state)),
                (alias("expires"), number(table, "expires", challenge.expires)?),
            ],
        )?;
        self.execute(&statement, Write::Once).await.map(drop)
    }

    async fn take_passkey_challenge(&self, challenge_id: &str) -> Result<Option<PasskeyChallenge>, AdapterError> {
        let table = &self.passkey_tables().challenge;
        let row =
            retry_deadlocks(|| self.try_take_challenge(challenge_id)).await.map_err(|((), error)| database(error))?;
        row.map(|row| challenge_from_row(table, &row)).transpose()
    }

    /// In batches of 1000 rows, through the index on `expires`.
    async fn delete_expired_passkey_challenges(&self, now_ms: i64) -> Result<u64, AdapterError> {
        let table = &self.passkey_tables().challenge;
        let statement = delete_expired_batch(table, "expires", self.backend(), now_ms, SWEEP_BATCH)?;
        self.sweep_batches(&statement, SWEEP_BATCH).await.map(|sweep| sweep.deleted)
    }
}
