//! 1b. The same candidate search done the way an integrator would build it: PostGIS KNN
//! (`ORDER BY geom <-> p LIMIT k` over a GiST index) on the same responders and targets.
//!
//! The points go into a scratch database, `griddispatch_bench_knn`, dropped and created
//! anew each run and dropped at the end. They are projected onto the same local plane in
//! metres as our index uses (`LocalPlane` around the county's centre latitude), as a plain
//! `geometry` with no SRID. That is PostGIS's fastest path: a `geography` column or a
//! transform per query would cost it more, and the comparison should not flatter us.
//! The GiST index is partial, on the free responders only, so busy ones cost nothing.
//!
//! PostGIS only orders by distance. Our search also ranks by travel time per mode and
//! prefers the zone's own worker, so it does more work per query than this.
//!
//! Two figures:
//! - the round trip a dispatcher pays: one prepared statement from this process (sqlx),
//!   one query at a time, each timed on its own;
//! - the time inside the server: a PL/pgSQL function runs the same query for every
//!   target, timed with `clock_timestamp()`; the mean is the whole loop ÷ N, and a second
//!   pass stamps each query for the percentiles.

use std::time::Instant;

use crate::county::CENTRE;
use crate::search::{sample, Sample, LIMIT};
use crate::stats::{summarize, Summary};
use griddispatch::domain::geometry::LocalPlane;
use sqlx::{Connection, PgConnection};

/// The scratch database; nothing else uses this name.
const DB: &str = "griddispatch_bench_knn";

/// What the PostGIS side measured.
pub(crate) struct KnnResult {
    pub(crate) responders: usize,
    /// `SHOW server_version` and `postgis_lib_version()`.
    pub(crate) server: String,
    pub(crate) postgis: String,
    /// Seconds to load the points and build the index.
    pub(crate) load_secs: f64,
    /// One prepared statement at a time from this process, µs.
    pub(crate) round_trip: Summary,
    /// Whole PL/pgSQL loop ÷ N, µs.
    pub(crate) in_server_mean: f64,
    /// Each query stamped inside the loop, µs.
    pub(crate) in_server: Summary,
    /// The plan's first line: it should be a scan of the partial GiST index.
    pub(crate) plan: String,
}

/// The query both figures time, for the target `x, y` on the plane (metres): SQL
/// expressions, a parameter's or a PL/pgSQL variable's.
fn knn_sql(x: &str, y: &str) -> String {
    format!(
        "SELECT id FROM responders WHERE NOT busy \
         ORDER BY geom <-> ST_MakePoint({x}, {y}) LIMIT {LIMIT}"
    )
}

/// Runs the comparison over the same `n` responders and the first `queries` targets that
/// `bench_search` used for that size. `pg_url` is the server without a database name.
pub(crate) async fn bench_knn(pg_url: &str, n: usize, queries: usize) -> anyhow::Result<KnnResult> {
    let Sample {
        responders,
        targets,
    } = sample(n, queries);
    let plane = LocalPlane::new(CENTRE.0);

    let mut admin = PgConnection::connect(&format!("{pg_url}/postgres")).await?;
    let server: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await?;
    recreate_database(&mut admin, DB).await?;
    let result = async {
        let mut c = PgConnection::connect(&format!("{pg_url}/{DB}")).await?;
        if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
            .execute(&mut c)
            .await
        {
            anyhow::bail!(
                "PostgreSQL {server} could not create the postgis extension ({e}); \
                 scripts/bench installs it from Debian (postgresql-<major>-postgis-3)"
            );
        }
        let postgis: String = sqlx::query_scalar("SELECT postgis_lib_version()")
            .fetch_one(&mut c)
            .await?;
        let load_secs = load(&mut c, &responders, &plane).await?;
        let plan = plan(&mut c).await?;
        let xy: Vec<[f64; 2]> = targets.iter().map(|t| plane.project(*t)).collect();
        let round_trip = round_trip(&mut c, &xy).await?;
        let (in_server_mean, in_server) = in_server(&mut c, &xy).await?;
        c.close().await?;
        Ok(KnnResult {
            responders: n,
            server: server.clone(),
            postgis,
            load_secs,
            round_trip,
            in_server_mean,
            in_server,
            plan,
        })
    }
    .await;
    drop_database(&mut admin, DB).await;
    result
}

/// Drops the scratch database `db` if it is there and creates it empty.
pub(crate) async fn recreate_database(admin: &mut PgConnection, db: &str) -> sqlx::Result<()> {
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut *admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(admin)
        .await?;
    Ok(())
}

/// Leaves nothing behind on a shared server; a failure is only reported, since it does not
/// spoil the figures. FORCE: after an error our own connection may not have gone yet
/// (PostgreSQL 13+).
pub(crate) async fn drop_database(admin: &mut PgConnection, db: &str) {
    if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(admin)
        .await
    {
        eprintln!("could not drop the scratch database {db}: {e}");
    }
}

/// The table, its partial GiST index on the free responders, fresh statistics, and the
/// function that loops the query inside the server. Returns the seconds it took.
async fn load(
    c: &mut PgConnection,
    responders: &[griddispatch::domain::ranking::Responder],
    plane: &LocalPlane,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    sqlx::query(
        "CREATE TABLE responders (id int4 PRIMARY KEY, busy bool NOT NULL, \
         geom geometry(Point) NOT NULL)",
    )
    .execute(&mut *c)
    .await?;
    let (mut ids, mut busy, mut xs, mut ys) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, r) in responders.iter().enumerate() {
        let [x, y] = plane.project(r.position.expect("every bench responder has a fix"));
        ids.push(i as i32);
        busy.push(r.busy);
        xs.push(x);
        ys.push(y);
    }
    sqlx::query(
        "INSERT INTO responders (id, busy, geom) \
         SELECT id, busy, ST_MakePoint(x, y) \
         FROM unnest($1::int4[], $2::bool[], $3::float8[], $4::float8[]) AS u(id, busy, x, y)",
    )
    .bind(ids)
    .bind(busy)
    .bind(xs)
    .bind(ys)
    .execute(&mut *c)
    .await?;
    sqlx::query("CREATE INDEX responders_free_geom ON responders USING gist (geom) WHERE NOT busy")
        .execute(&mut *c)
        .await?;
    sqlx::query("VACUUM ANALYZE responders")
        .execute(&mut *c)
        .await?;
    // With `stamp_each` false only the whole loop is timed (the mean); with it true each
    // query is stamped too (the percentiles), which adds two clock reads per query.
    let function = format!(
        "CREATE FUNCTION knn_loop(xs float8[], ys float8[], stamp_each bool, \
             OUT total_us float8, OUT each_us float8[], OUT hits bigint) \
         LANGUAGE plpgsql AS $f$ \
         DECLARE t0 timestamptz; t1 timestamptz; ids int4[]; \
         BEGIN \
           each_us := '{{}}'; hits := 0; \
           t0 := clock_timestamp(); \
           FOR i IN 1 .. cardinality(xs) LOOP \
             IF stamp_each THEN t1 := clock_timestamp(); END IF; \
             SELECT array_agg(id) INTO ids FROM ({}) s; \
             IF stamp_each THEN \
               each_us := each_us || (extract(epoch FROM clock_timestamp() - t1) * 1e6)::float8; \
             END IF; \
             hits := hits + coalesce(cardinality(ids), 0); \
           END LOOP; \
           total_us := (extract(epoch FROM clock_timestamp() - t0) * 1e6)::float8; \
         END $f$",
        knn_sql("xs[i]", "ys[i]")
    );
    sqlx::query(&function).execute(&mut *c).await?;
    Ok(start.elapsed().as_secs_f64())
}

/// The first line of the query's plan, to show the partial index is what answers it.
async fn plan(c: &mut PgConnection) -> anyhow::Result<String> {
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {}", knn_sql("0", "0")))
        .fetch_all(&mut *c)
        .await?;
    // The first line is the Limit; the scan that feeds it is the one that matters.
    Ok(lines
        .iter()
        .find(|l| l.contains("Scan"))
        .or(lines.first())
        .map_or(String::new(), |l| {
            let l = l.trim().trim_start_matches("->").trim();
            l.split(" (cost=").next().unwrap_or(l).trim().to_owned()
        }))
}

/// Each query a prepared statement (sqlx prepares it once per connection and then only
/// binds and executes), one at a time, as a dispatcher would ask.
async fn round_trip(c: &mut PgConnection, xy: &[[f64; 2]]) -> anyhow::Result<Summary> {
    let sql = knn_sql("$1", "$2");
    async fn ask(c: &mut PgConnection, sql: &str, [x, y]: [f64; 2]) -> sqlx::Result<Vec<i32>> {
        sqlx::query_scalar(sql).bind(x).bind(y).fetch_all(c).await
    }
    // Warm the server's caches and the statement, as the in-process search is warmed.
    for p in xy.iter().take(1000) {
        ask(&mut *c, &sql, *p).await?;
    }
    let mut times = Vec::with_capacity(xy.len());
    for p in xy {
        let start = Instant::now();
        let found = ask(&mut *c, &sql, *p).await?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
        anyhow::ensure!(found.len() == LIMIT, "PostGIS found {found:?} at {p:?}");
    }
    summarize(times).ok_or_else(|| anyhow::anyhow!("no queries"))
}

/// The PL/pgSQL loop: once untimed per query (warm-up and the mean), once stamping each.
async fn in_server(c: &mut PgConnection, xy: &[[f64; 2]]) -> anyhow::Result<(f64, Summary)> {
    let xs: Vec<f64> = xy.iter().map(|p| p[0]).collect();
    let ys: Vec<f64> = xy.iter().map(|p| p[1]).collect();
    async fn run(
        c: &mut PgConnection,
        xs: &[f64],
        ys: &[f64],
        stamp_each: bool,
    ) -> sqlx::Result<(f64, Vec<f64>, i64)> {
        sqlx::query_as("SELECT * FROM knn_loop($1, $2, $3)")
            .bind(xs)
            .bind(ys)
            .bind(stamp_each)
            .fetch_one(c)
            .await
    }
    let expected = (xy.len() * LIMIT) as i64;
    // The first pass warms the function's cached plan; the second gives the mean.
    run(&mut *c, &xs, &ys, false).await?;
    let (total_us, _, found) = run(&mut *c, &xs, &ys, false).await?;
    anyhow::ensure!(found == expected, "the loop found {found} of {expected}");
    let (_, each, _) = run(&mut *c, &xs, &ys, true).await?;
    let each = summarize(each).ok_or_else(|| anyhow::anyhow!("no queries"))?;
    Ok((total_us / xy.len() as f64, each))
}
