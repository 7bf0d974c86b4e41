//! The two migration histories (migrations/sqlite, migrations/postgres) build the same
//! schema: the same migration versions, tables, columns, nullability and named indexes
//! (conflict messages name `cameras_gb28181_id`). Needs both databases, so it runs in
//! either pass of scripts/test whenever PostgreSQL answers.

use crate::common;
use std::collections::BTreeSet;

use griddispatch::store::Store;
use sqlx::Connection;

/// (table, column, not null) of every column of our tables.
type Columns = BTreeSet<(String, String, bool)>;

async fn sqlite_schema(url: &str) -> (Vec<i64>, Columns, BTreeSet<String>) {
    let mut c = sqlx::sqlite::SqliteConnection::connect(url).await.unwrap();
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut c)
            .await
            .unwrap();
    // SQLite lets a non-INTEGER primary key hold NULL unless declared NOT NULL, but the
    // program never writes one; PostgreSQL's keys are NOT NULL, so keys count as not null.
    let cols: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT m.name, p.name, p.\"notnull\", p.pk FROM sqlite_master m
         JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    (
        versions.into_iter().map(|(v,)| v).collect(),
        cols.into_iter()
            .map(|(t, c, nn, pk)| (t, c, nn != 0 || pk != 0))
            .collect(),
        indexes.into_iter().map(|(n,)| n).collect(),
    )
}

async fn postgres_schema(url: &str) -> (Vec<i64>, Columns, BTreeSet<String>) {
    let mut c = sqlx::postgres::PgConnection::connect(url).await.unwrap();
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut c)
            .await
            .unwrap();
    let cols: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    // Only the indexes we name; PostgreSQL's own for keys end in _pkey / _key.
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    (
        versions.into_iter().map(|(v,)| v).collect(),
        cols.into_iter()
            .map(|(t, c, nullable)| (t, c, nullable == "NO"))
            .collect(),
        indexes.into_iter().map(|(n,)| n).collect(),
    )
}

#[tokio::test]
async fn both_migration_histories_build_the_same_schema() {
    let pg_server = common::pg_server();
    if sqlx::postgres::PgConnection::connect(&format!("{pg_server}/postgres"))
        .await
        .is_err()
    {
        eprintln!(
            "\n*** SKIPPED both_migration_histories_build_the_same_schema: no PostgreSQL at {pg_server} ***\n"
        );
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL is required in CI");
        }
        return;
    }
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}/schema.db", sqlite_dir.path().display());
    Store::connect(&sqlite_url, 1).await.unwrap().close().await;

    // A PostgreSQL database of its own, whichever pass this is.
    let pg_dir = tempfile::tempdir().unwrap();
    let pg_url = common::pg_db_url(pg_dir.path());
    Store::connect(&pg_url, 1).await.unwrap().close().await;

    let (lite_versions, lite_cols, lite_indexes) = sqlite_schema(&sqlite_url).await;
    let (pg_versions, pg_cols, pg_indexes) = postgres_schema(&pg_url).await;
    common::drop_test_db(pg_dir.path());

    assert!(!lite_versions.is_empty());
    assert_eq!(lite_versions, pg_versions, "migration versions differ");
    let only_lite: Vec<_> = lite_cols.difference(&pg_cols).collect();
    let only_pg: Vec<_> = pg_cols.difference(&lite_cols).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "(table, column, not null) only in SQLite: {only_lite:?}; only in PostgreSQL: {only_pg:?}"
    );
    assert_eq!(lite_indexes, pg_indexes, "named indexes differ");
}
