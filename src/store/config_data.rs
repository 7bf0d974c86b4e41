//! What administrators configure: zones, responders, sources, cameras, MQTT accounts and
//! API tokens.

use serde::Serialize;
use sqlx::FromRow;

use super::secrets::{hash_secret, mosquitto_hash, new_secret, verify_secret};
use super::{now_ms, one_row, Flag, Store, StoreError};
use crate::domain::Role;

/// A stored zone.
#[derive(Debug, Clone, FromRow)]
pub struct ZoneRow {
    /// Zone id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `grid` or `beat`.
    pub kind: String,
    /// GeoJSON geometry, as text.
    pub geometry: String,
    /// Other Feature properties, JSON object text.
    pub properties: String,
}

/// A stored responder.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ResponderRow {
    /// Responder id (also the MQTT username).
    pub id: String,
    /// Display name.
    pub name: String,
    /// grid_worker, patrol or volunteer.
    pub kind: String,
    /// foot, bike or car.
    pub travel: String,
    /// Zone of responsibility.
    pub zone_id: Option<String>,
    /// JSON array of skill names.
    #[serde(skip)]
    pub skills: String,
    /// Working now.
    #[sqlx(try_from = "Flag")]
    pub on_duty: bool,
    /// Last latitude.
    pub lat: Option<f64>,
    /// Last longitude.
    pub lon: Option<f64>,
    /// Time of the last fix, Unix ms.
    pub fix_at: Option<i64>,
    /// Accuracy of the last fix, metres.
    pub accuracy_m: Option<f64>,
    /// Battery percent reported with the last fix.
    pub battery: Option<i64>,
}

/// A stored alert source.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct SourceRow {
    /// Source id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A stored camera.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct CameraRow {
    /// Camera id (Frigate's camera name for Frigate cameras).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Zone containing it.
    pub zone_id: Option<String>,
    /// Stream address.
    pub stream_uri: Option<String>,
    /// GB/T 28181 device id (20 digits), unique among cameras; GB/T 28181 alarms naming
    /// it are placed at this camera.
    pub gb28181_id: Option<String>,
    /// Direction the camera looks, degrees clockwise from north (0–360), when known.
    pub heading: Option<f64>,
    /// Field of view, degrees (1–360), when known.
    pub fov: Option<f64>,
    /// Whether the camera publishes ONVIF analytics metadata itself.
    #[sqlx(try_from = "Flag")]
    pub onvif_metadata: bool,
}

/// What a camera import stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// Cameras that did not exist before.
    pub created: usize,
    /// Existing cameras overwritten.
    pub updated: usize,
}

/// Who an MQTT login belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountOwner {
    /// A responder with this id.
    Responder(String),
    /// A source with this id.
    Source(String),
}

/// New MQTT credentials, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct MqttCredentials {
    /// MQTT username.
    pub username: String,
    /// MQTT password; only hashes of it are stored (SHA-256, and Mosquitto's format).
    pub password: String,
}

/// An MQTT login as exported to an external broker (never the password).
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct MqttAccountRow {
    /// MQTT username: the responder id, or `source-<id>`.
    pub username: String,
    /// `responder` or `source`.
    pub principal: String,
    /// The responder's or source's id.
    pub subject_id: String,
    /// The password in Mosquitto's format; `None` for logins issued before it was kept.
    pub mosquitto_hash: Option<String>,
}

/// The MQTT username of a source (responders use their id, as OwnTracks expects).
pub fn source_username(source_id: &str) -> String {
    format!("source-{source_id}")
}

/// Fields of a new responder.
#[derive(Debug, Clone)]
pub struct NewResponder {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Travel mode.
    pub travel: String,
    /// Zone.
    pub zone_id: Option<String>,
    /// Skills, JSON array.
    pub skills: String,
    /// On duty.
    pub on_duty: bool,
}

const CAMERA_COLUMNS: &str =
    "id, name, lat, lon, zone_id, stream_uri, gb28181_id, heading, fov, onvif_metadata";

const RESPONDER_COLUMNS: &str =
    "id, name, kind, travel, zone_id, skills, on_duty, lat, lon, fix_at, accuracy_m, battery";

impl Store {
    // ---- zones ---------------------------------------------------------------------------

    /// All zones, by id.
    pub async fn zones(&self) -> Result<Vec<ZoneRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, name, kind, geometry, properties FROM zones ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Whether a zone with this id exists.
    pub async fn zone_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM zones WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Inserts zones in one transaction (all or nothing); `replace` overwrites existing ids.
    pub async fn put_zones(&self, zones: &[ZoneRow], replace: bool) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        for z in zones {
            let sql = if replace {
                "INSERT INTO zones (id, name, kind, geometry, properties, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                 geometry = excluded.geometry, properties = excluded.properties, updated_at = excluded.updated_at"
            } else {
                "INSERT INTO zones (id, name, kind, geometry, properties, updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
            };
            sqlx::query(sql)
                .bind(&z.id)
                .bind(&z.name)
                .bind(&z.kind)
                .bind(&z.geometry)
                .bind(&z.properties)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::on_unique(e, || format!("zone {} already exists", z.id))
                })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an existing zone.
    pub async fn update_zone(&self, z: &ZoneRow) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE zones SET name = $1, kind = $2, geometry = $3, properties = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&z.name)
        .bind(&z.kind)
        .bind(&z.geometry)
        .bind(&z.properties)
        .bind(now_ms())
        .bind(&z.id)
        .execute(&self.pool)
        .await?;
        one_row(&done, || format!("zone {}", z.id))
    }

    /// Deletes a zone; responders and cameras in it keep working without a zone.
    pub async fn delete_zone(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM zones WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(&done, || format!("zone {id}"))
    }

    // ---- responders ----------------------------------------------------------------------

    /// Creates a responder and its MQTT login in one transaction.
    pub async fn create_responder(&self, r: &NewResponder) -> Result<MqttCredentials, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO responders (id, name, kind, travel, zone_id, skills, on_duty, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.kind)
        .bind(&r.travel)
        .bind(&r.zone_id)
        .bind(&r.skills)
        .bind(r.on_duty)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("responder {} already exists", r.id)))?;
        let creds = put_account(&mut tx, &r.id, "responder", &r.id).await?;
        tx.commit().await?;
        Ok(creds)
    }

    /// One responder.
    pub async fn responder(&self, id: &str) -> Result<ResponderRow, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {RESPONDER_COLUMNS} FROM responders WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("responder {id}")))
    }

    /// All responders, by id.
    pub async fn responders(&self) -> Result<Vec<ResponderRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {RESPONDER_COLUMNS} FROM responders ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Overwrites the editable fields of a responder.
    pub async fn update_responder(&self, r: &NewResponder) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE responders SET name = $1, kind = $2, travel = $3, zone_id = $4, skills = $5, on_duty = $6, updated_at = $7
             WHERE id = $8",
        )
        .bind(&r.name)
        .bind(&r.kind)
        .bind(&r.travel)
        .bind(&r.zone_id)
        .bind(&r.skills)
        .bind(r.on_duty)
        .bind(now_ms())
        .bind(&r.id)
        .execute(&self.pool)
        .await?;
        one_row(&done, || format!("responder {}", r.id))
    }

    /// Deletes a responder and its MQTT login.
    pub async fn delete_responder(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM responders WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("responder {id}")));
        }
        sqlx::query("DELETE FROM mqtt_accounts WHERE principal = 'responder' AND subject_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a location fix.
    pub async fn save_location(
        &self,
        id: &str,
        lat: f64,
        lon: f64,
        at_ms: i64,
        accuracy_m: Option<f64>,
        battery: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE responders SET lat = $1, lon = $2, fix_at = $3, accuracy_m = $4, battery = COALESCE($5, battery)
             WHERE id = $6 AND (fix_at IS NULL OR fix_at <= $7)",
        )
        .bind(lat)
        .bind(lon)
        .bind(at_ms)
        .bind(accuracy_m)
        .bind(battery)
        .bind(id)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- sources -------------------------------------------------------------------------

    /// Creates a source and its MQTT login.
    pub async fn create_source(&self, id: &str, name: &str) -> Result<MqttCredentials, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO sources (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::on_unique(e, || format!("source {id} already exists")))?;
        let creds = put_account(&mut tx, &source_username(id), "source", id).await?;
        tx.commit().await?;
        Ok(creds)
    }

    /// All sources.
    pub async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        Ok(sqlx::query_as("SELECT id, name FROM sources ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Whether a source exists.
    pub async fn source_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM sources WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    // ---- MQTT accounts -------------------------------------------------------------------

    /// Issues a new password for a responder's or source's login.
    pub async fn reset_password(
        &self,
        owner: &AccountOwner,
    ) -> Result<MqttCredentials, StoreError> {
        let (principal, subject, username) = match owner {
            AccountOwner::Responder(id) => ("responder", id.as_str(), id.clone()),
            AccountOwner::Source(id) => ("source", id.as_str(), source_username(id)),
        };
        // One statement, no read-then-write transaction: under SQLite WAL a read
        // transaction that later writes fails at once when another writer got in between.
        let password = new_secret();
        let done = sqlx::query(
            "UPDATE mqtt_accounts SET password_hash = $1, mosquitto_hash = $2
             WHERE principal = $3 AND subject_id = $4",
        )
        .bind(hash_secret(&password))
        .bind(mosquitto_hash(&password))
        .bind(principal)
        .bind(subject)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{principal} {subject}")));
        }
        Ok(MqttCredentials { username, password })
    }

    /// Every MQTT login (responders and sources), by username, for exporting to an
    /// external broker.
    pub async fn mqtt_accounts(&self) -> Result<Vec<MqttAccountRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT username, principal, subject_id, mosquitto_hash FROM mqtt_accounts
             ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Checks an MQTT login.
    pub async fn check_mqtt_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<AccountOwner>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT password_hash, principal, subject_id FROM mqtt_accounts WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(hash, principal, subject)| {
            if !verify_secret(password, &hash) {
                return None;
            }
            match principal.as_str() {
                "responder" => Some(AccountOwner::Responder(subject)),
                "source" => Some(AccountOwner::Source(subject)),
                _ => None,
            }
        }))
    }

    // ---- cameras -------------------------------------------------------------------------

    /// Creates a camera.
    pub async fn create_camera(&self, c: &CameraRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cameras (id, name, lat, lon, zone_id, stream_uri, gb28181_id, heading, fov,
             onvif_metadata, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.lat)
        .bind(c.lon)
        .bind(&c.zone_id)
        .bind(&c.stream_uri)
        .bind(&c.gb28181_id)
        .bind(c.heading)
        .bind(c.fov)
        .bind(c.onvif_metadata)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| camera_error(e, c))?;
        Ok(())
    }

    /// One camera.
    pub async fn camera(&self, id: &str) -> Result<CameraRow, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {CAMERA_COLUMNS} FROM cameras WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("camera {id}")))
    }

    /// Overwrites every field of an existing camera.
    pub async fn update_camera(&self, c: &CameraRow) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE cameras SET name = $1, lat = $2, lon = $3, zone_id = $4, stream_uri = $5, gb28181_id = $6,
             heading = $7, fov = $8, onvif_metadata = $9 WHERE id = $10",
        )
        .bind(&c.name)
        .bind(c.lat)
        .bind(c.lon)
        .bind(&c.zone_id)
        .bind(&c.stream_uri)
        .bind(&c.gb28181_id)
        .bind(c.heading)
        .bind(c.fov)
        .bind(c.onvif_metadata)
        .bind(&c.id)
        .execute(&self.pool)
        .await
        .map_err(|e| camera_error(e, c))?;
        one_row(&done, || format!("camera {}", c.id))
    }

    /// Deletes a camera. Alerts that named it keep its id and their own position.
    pub async fn delete_camera(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM cameras WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(&done, || format!("camera {id}"))
    }

    /// Creates or overwrites cameras in one transaction: all of them or none.
    ///
    /// The rows must already be checked (ids unique among them); a clash with a camera
    /// stored meanwhile still fails the whole import as a conflict.
    pub async fn import_cameras(&self, rows: &[CameraRow]) -> Result<ImportCounts, StoreError> {
        // No other writer of cameras between the read of the existing ids and the upserts,
        // so the created/updated counts are right.
        let mut tx = self.begin_write("cameras").await?;
        let existing: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, gb28181_id FROM cameras")
                .fetch_all(&mut *tx)
                .await?;
        let existing: std::collections::HashMap<String, Option<String>> =
            existing.into_iter().collect();
        // Device ids may move between cameras of the same import (a swap); the unique index
        // is checked per statement, so first take them off the cameras whose id changes.
        for c in rows {
            if let Some(Some(old)) = existing.get(&c.id) {
                if c.gb28181_id.as_deref() != Some(old.as_str()) {
                    sqlx::query("UPDATE cameras SET gb28181_id = NULL WHERE id = $1")
                        .bind(&c.id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        let now = now_ms();
        let mut counts = ImportCounts {
            created: 0,
            updated: 0,
        };
        for c in rows {
            // One SQL text for every row, so sqlx prepares it once and reuses the statement.
            sqlx::query(
                "INSERT INTO cameras (id, name, lat, lon, zone_id, stream_uri, gb28181_id, heading, fov,
                 onvif_metadata, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat,
                 lon = excluded.lon, zone_id = excluded.zone_id, stream_uri = excluded.stream_uri,
                 gb28181_id = excluded.gb28181_id, heading = excluded.heading, fov = excluded.fov,
                 onvif_metadata = excluded.onvif_metadata",
            )
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.lat)
            .bind(c.lon)
            .bind(&c.zone_id)
            .bind(&c.stream_uri)
            .bind(&c.gb28181_id)
            .bind(c.heading)
            .bind(c.fov)
            .bind(c.onvif_metadata)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| camera_error(e, c))?;
            if existing.contains_key(&c.id) {
                counts.updated += 1;
            } else {
                counts.created += 1;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// All cameras.
    pub async fn cameras(&self) -> Result<Vec<CameraRow>, StoreError> {
        Ok(
            sqlx::query_as(&format!("SELECT {CAMERA_COLUMNS} FROM cameras ORDER BY id"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// `(id, stream_uri)` of the cameras flagged `onvif_metadata` that have a stream, by id:
    /// the ONVIF metadata sessions wanted. Only these two columns, since the set is re-read
    /// periodically.
    pub async fn onvif_cameras(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, stream_uri FROM cameras
             WHERE onvif_metadata AND stream_uri IS NOT NULL AND stream_uri <> ''
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The camera with this GB/T 28181 device id, if one is registered.
    pub async fn camera_by_gb28181_id(
        &self,
        gb28181_id: &str,
    ) -> Result<Option<CameraRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CAMERA_COLUMNS} FROM cameras WHERE gb28181_id = $1"
        ))
        .bind(gb28181_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    // ---- API tokens ----------------------------------------------------------------------

    /// Creates an API token; returns the token, which is not stored.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<String, StoreError> {
        let token = format!("gd_{}", new_secret());
        sqlx::query("INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(name)
            .bind(role.as_str())
            .bind(hash_secret(&token))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The name and role behind a token.
    pub async fn token_role(&self, token: &str) -> Result<Option<(String, Role)>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, role FROM api_tokens WHERE token_hash = $1")
                .bind(hash_secret(token))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(name, role)| role.parse().ok().map(|r| (name, r))))
    }
}

/// Names what clashed when a camera could not be written.
fn camera_error(e: sqlx::Error, c: &CameraRow) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("zone {}", c.zone_id.as_deref().unwrap_or("")))
        }
        // Two unique keys: SQLite names the column that clashed in its message.
        sqlx::Error::Database(db) if db.message().contains("gb28181_id") => {
            StoreError::on_unique(e, || {
                format!(
                    "a camera with gb28181_id {} already exists",
                    c.gb28181_id.as_deref().unwrap_or("")
                )
            })
        }
        _ => StoreError::on_unique(e, || format!("camera {} already exists", c.id)),
    }
}

async fn put_account(
    tx: &mut sqlx::AnyConnection,
    username: &str,
    principal: &str,
    subject: &str,
) -> Result<MqttCredentials, StoreError> {
    let password = new_secret();
    sqlx::query("INSERT INTO mqtt_accounts (username, password_hash, mosquitto_hash, principal, subject_id) VALUES ($1, $2, $3, $4, $5)")
        .bind(username)
        .bind(hash_secret(&password))
        .bind(mosquitto_hash(&password))
        .bind(principal)
        .bind(subject)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("MQTT username {username} is taken")))?;
    Ok(MqttCredentials {
        username: username.to_owned(),
        password,
    })
}

// ---- camera health -----------------------------------------------------------------------

/// A camera's health as stored.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq, Eq)]
pub struct CameraHealthRow {
    /// online, offline or unknown.
    pub status: String,
    /// When it took that status, Unix ms.
    pub status_since: Option<i64>,
    /// When it was last seen working (Frigate said online, or a probe decoded video), Unix ms.
    pub last_seen: Option<i64>,
    /// Reason of the last offline or unknown.
    pub last_error: Option<String>,
}

/// What the last successful probe of a camera's stream learnt; every field NULL until one
/// succeeds, kept while the camera is offline.
#[derive(Debug, Clone, Default, FromRow, Serialize, PartialEq)]
pub struct CameraStreamRow {
    /// Codec as GStreamer describes it, e.g. `H.264 (Main Profile)`.
    pub codec: Option<String>,
    /// Frame width, pixels.
    pub width: Option<i64>,
    /// Frame height, pixels.
    pub height: Option<i64>,
    /// Frames per second.
    pub fps: Option<f64>,
    /// Encoded video, bits per second.
    pub bitrate: Option<i64>,
    /// When the probe that learnt this ran, Unix ms.
    pub probed_at: Option<i64>,
}

impl CameraStreamRow {
    /// The row for what a probe at `at_ms` learnt.
    pub fn probed(facts: &crate::domain::camera_health::StreamFacts, at_ms: i64) -> Self {
        CameraStreamRow {
            codec: facts.codec.clone(),
            width: facts.width,
            height: facts.height,
            fps: facts.fps,
            bitrate: facts.bitrate,
            probed_at: Some(at_ms),
        }
    }
}

/// A camera with its health, as the API shows it.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct CameraView {
    /// The configured fields.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub camera: CameraRow,
    /// Health.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub health: CameraHealthRow,
    /// What the stream is, from the last successful probe.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub stream: CameraStreamRow,
}

/// One status change of a camera.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct CameraHistoryRow {
    /// Order of the changes.
    pub seq: i64,
    /// Camera.
    pub camera_id: String,
    /// When, Unix ms.
    pub at: i64,
    /// The new status.
    pub status: String,
    /// Why.
    pub reason: Option<String>,
}

/// A camera's new health, to store.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraStatusWrite {
    /// Camera.
    pub camera_id: String,
    /// The health after the report.
    pub health: CameraHealthRow,
    /// When the report arrived, Unix ms (the history time).
    pub at: i64,
    /// Why (history reason).
    pub reason: Option<String>,
    /// What a successful probe learnt of the stream; None leaves the stored facts alone.
    pub stream: Option<CameraStreamRow>,
}

const HEALTH_COLUMNS: &str =
    "status, status_since, last_seen, last_error, codec, width, height, fps, bitrate, probed_at";

/// Stores a camera's health, adding a history row only when the status differs from the
/// stored one. A camera deleted meanwhile is skipped (not an error).
pub(crate) async fn write_camera_status(
    conn: &mut sqlx::AnyConnection,
    w: &CameraStatusWrite,
) -> Result<(), StoreError> {
    let old: Option<(String,)> = sqlx::query_as("SELECT status FROM cameras WHERE id = $1")
        .bind(&w.camera_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((old,)) = old else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE cameras SET status = $1, status_since = $2, last_seen = $3, last_error = $4 WHERE id = $5",
    )
    .bind(&w.health.status)
    .bind(w.health.status_since)
    .bind(w.health.last_seen)
    .bind(&w.health.last_error)
    .bind(&w.camera_id)
    .execute(&mut *conn)
    .await?;
    if let Some(st) = &w.stream {
        sqlx::query(
            "UPDATE cameras SET codec = $1, width = $2, height = $3, fps = $4, bitrate = $5, probed_at = $6
             WHERE id = $7",
        )
        .bind(&st.codec)
        .bind(st.width)
        .bind(st.height)
        .bind(st.fps)
        .bind(st.bitrate)
        .bind(st.probed_at)
        .bind(&w.camera_id)
        .execute(&mut *conn)
        .await?;
    }
    let first: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM camera_history WHERE camera_id = $1")
        .bind(&w.camera_id)
        .fetch_one(&mut *conn)
        .await?;
    if old != w.health.status || first.0 == 0 {
        sqlx::query(
            "INSERT INTO camera_history (camera_id, at, status, reason) VALUES ($1, $2, $3, $4)",
        )
        .bind(&w.camera_id)
        .bind(w.at)
        .bind(&w.health.status)
        .bind(&w.reason)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Sets a camera's health (history only on a change of status).
    pub async fn set_camera_status(&self, w: &CameraStatusWrite) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        write_camera_status(&mut tx, w).await?;
        tx.commit().await?;
        Ok(())
    }

    /// (id, stream URI) of every camera with a stream, by id: what the prober probes.
    pub async fn camera_streams(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, stream_uri FROM cameras WHERE stream_uri IS NOT NULL AND stream_uri != ''
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every camera with its health, by id.
    pub async fn camera_views(&self) -> Result<Vec<CameraView>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CAMERA_COLUMNS}, {HEALTH_COLUMNS} FROM cameras ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// One camera with its health.
    pub async fn camera_view(&self, id: &str) -> Result<CameraView, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {CAMERA_COLUMNS}, {HEALTH_COLUMNS} FROM cameras WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("camera {id}")))
    }

    /// A camera's status changes, newest first (404 for an unknown camera).
    pub async fn camera_history(&self, id: &str) -> Result<Vec<CameraHistoryRow>, StoreError> {
        self.camera(id).await?;
        Ok(sqlx::query_as(
            "SELECT seq, camera_id, at, status, reason FROM camera_history WHERE camera_id = $1
             ORDER BY seq DESC LIMIT 1000",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// (camera id, incident id) of the open incidents opened by alerts of `source` that
    /// name a camera, oldest first.
    pub async fn open_incidents_by_camera(
        &self,
        source: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT a.camera_id, a.incident_id FROM alerts a JOIN incidents i ON i.id = a.incident_id
             WHERE a.source_id = $1 AND a.camera_id IS NOT NULL AND i.state NOT IN ('closed', 'cancelled')
             ORDER BY a.received_at",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?)
    }
}
