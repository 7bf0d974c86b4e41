//! Responders (grid workers, patrols, volunteers): who they are, whether they are on duty
//! and their last location fix. Creating one also issues its MQTT login.

use serde::Serialize;
use sqlx::FromRow;

use super::accounts::{put_account, MqttCredentials};
use super::rows::{decode_all, decode_opt};
use super::{now_ms, one_row, Flag, Store, StoreError};
use crate::domain::{AccountKind, ResponderKind, TravelMode};

/// A stored responder.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ResponderRow {
    /// Responder id (also the MQTT username).
    pub id: String,
    /// Display name.
    pub name: String,
    /// grid_worker, patrol or volunteer.
    pub kind: ResponderKind,
    /// foot, bike or car.
    pub travel: TravelMode,
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
    /// Real name (for points and honour rolls), if given; nothing more personal is kept.
    pub real_name: Option<String>,
    /// Phone number, if given.
    pub phone: Option<String>,
    /// The grid station (a merchant that is one) this responder is based at.
    pub station_id: Option<String>,
}

/// Fields of a new responder.
#[derive(Debug, Clone)]
pub struct NewResponder {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ResponderKind,
    /// Travel mode.
    pub travel: TravelMode,
    /// Zone.
    pub zone_id: Option<String>,
    /// Skills, JSON array.
    pub skills: String,
    /// On duty.
    pub on_duty: bool,
    /// Station based at (checked by the caller to be a station).
    pub station_id: Option<String>,
}

const RESPONDER_COLUMNS: &str =
    "id, name, kind, travel, zone_id, skills, on_duty, lat, lon, fix_at, accuracy_m, battery, real_name, phone, station_id";

impl Store {
    /// Creates a responder and its MQTT login in one transaction.
    pub async fn create_responder(&self, r: &NewResponder) -> Result<MqttCredentials, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO responders (id, name, kind, travel, zone_id, skills, on_duty, created_at, updated_at, station_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(r.kind.as_str())
        .bind(r.travel.as_str())
        .bind(&r.zone_id)
        .bind(&r.skills)
        .bind(r.on_duty)
        .bind(now)
        .bind(now)
        .bind(&r.station_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("responder {} already exists", r.id)))?;
        let creds = put_account(&mut tx, &r.id, AccountKind::Responder, &r.id).await?;
        tx.commit().await?;
        Ok(creds)
    }

    /// One responder.
    pub async fn responder(&self, id: &str) -> Result<ResponderRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RESPONDER_COLUMNS} FROM responders WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        decode_opt(row, "responders", "id")?
            .ok_or_else(|| StoreError::NotFound(format!("responder {id}")))
    }

    /// All responders, by id.
    pub async fn responders(&self) -> Result<Vec<ResponderRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RESPONDER_COLUMNS} FROM responders ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "responders", "id")
    }

    /// Overwrites the editable fields of a responder.
    pub async fn update_responder(&self, r: &NewResponder) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE responders SET name = $1, kind = $2, travel = $3, zone_id = $4, skills = $5, on_duty = $6, updated_at = $7,
                    station_id = $9
             WHERE id = $8",
        )
        .bind(&r.name)
        .bind(r.kind.as_str())
        .bind(r.travel.as_str())
        .bind(&r.zone_id)
        .bind(&r.skills)
        .bind(r.on_duty)
        .bind(now_ms())
        .bind(&r.id)
        .bind(&r.station_id)
        .execute(&self.pool)
        .await?;
        one_row(&done, || format!("responder {}", r.id))
    }

    /// Sets a responder's real name and phone (`None` clears one).
    pub async fn set_responder_contact(
        &self,
        id: &str,
        real_name: Option<&str>,
        phone: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE responders SET real_name = $1, phone = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(real_name)
        .bind(phone)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        one_row(&done, || format!("responder {id}"))
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
}
