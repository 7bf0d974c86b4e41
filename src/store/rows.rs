//! Reading rows at the store boundary. Rows carry the domain's enums (states, kinds,
//! roles), decoded here: a name the schema should never hold is an error that names the
//! table, the row and the value ([`StoreError::BadRow`]), never a silent default.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::StoreError;
use crate::domain::UnknownName;

/// Decodes one fetched row. `table` and `key` (the row's id column) name the row in the
/// error when a column holds a name its enum does not know.
pub(super) fn decode<T>(row: &AnyRow, table: &'static str, key: &str) -> Result<T, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow>,
{
    T::from_row(row).map_err(|e| match e {
        sqlx::Error::ColumnDecode { index, source } => match source.downcast::<UnknownName>() {
            Ok(bad) => StoreError::BadRow {
                table,
                id: key_of(row, key),
                problem: format!("{index} {bad}"),
            },
            Err(source) => StoreError::Db(sqlx::Error::ColumnDecode { index, source }),
        },
        e => StoreError::Db(e),
    })
}

/// Decodes fetched rows (see [`decode`]).
pub(super) fn decode_all<T>(
    rows: Vec<AnyRow>,
    table: &'static str,
    key: &str,
) -> Result<Vec<T>, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow>,
{
    rows.iter().map(|r| decode(r, table, key)).collect()
}

/// Decodes an optional fetched row (see [`decode`]).
pub(super) fn decode_opt<T>(
    row: Option<AnyRow>,
    table: &'static str,
    key: &str,
) -> Result<Option<T>, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow>,
{
    row.map(|r| decode(&r, table, key)).transpose()
}

/// Reads a name selected on its own (not through a row type) into its enum.
pub(super) fn name<T>(
    value: String,
    table: &'static str,
    id: &str,
    column: &str,
) -> Result<T, StoreError>
where
    T: TryFrom<String, Error = UnknownName>,
{
    T::try_from(value).map_err(|bad| StoreError::BadRow {
        table,
        id: id.to_owned(),
        problem: format!("{column} {bad}"),
    })
}

/// The row's id as text, for the error (a text or integer key).
fn key_of(row: &AnyRow, key: &str) -> String {
    row.try_get::<String, _>(key)
        .or_else(|_| row.try_get::<i64, _>(key).map(|n| n.to_string()))
        .unwrap_or_else(|_| "?".to_owned())
}
