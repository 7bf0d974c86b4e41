//! 喜邻 partner merchants and grid stations (网格驿站), their offers, and the `merchant`
//! user each merchant gets: registered in one transaction, so there is never a merchant
//! without its login nor a login without its merchant.

use serde::Serialize;
use sqlx::FromRow;

use super::passwords::{check_password, hash_password};
use super::rows::{decode_all, decode_opt};
use super::users::check_username;
use super::{now_ms, one_row, Flag, Store, StoreError};

/// A stored merchant, with how many active offers it has.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct MerchantRow {
    /// Id.
    pub id: String,
    /// Shop name.
    pub name: String,
    /// Street address.
    pub address: String,
    /// Latitude (WGS-84).
    pub lat: f64,
    /// Longitude (WGS-84).
    pub lon: f64,
    /// Also a grid station (网格驿站).
    #[sqlx(try_from = "Flag")]
    pub station: bool,
    /// Opening hours, free text.
    pub hours: Option<String>,
    /// Active offers.
    pub offers: i64,
    /// Unix ms.
    #[serde(skip)]
    pub created_at: i64,
    /// Unix ms.
    #[serde(skip)]
    pub updated_at: i64,
}

/// A merchant's editable fields, checked by the caller.
#[derive(Debug, Clone)]
pub struct NewMerchant {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Grid station.
    pub station: bool,
    /// Opening hours.
    pub hours: Option<String>,
}

/// A stored offer.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct OfferRow {
    /// Id, unique across merchants.
    pub id: String,
    /// Its merchant.
    pub merchant_id: String,
    /// What the volunteer gets.
    pub title: String,
    /// Price in points.
    pub points: i64,
    /// Left in stock; `None` is unlimited.
    pub stock: Option<i64>,
    /// Most one person may redeem; `None` is no limit.
    pub per_person_limit: Option<i64>,
    /// Valid until, Unix ms.
    #[serde(skip)]
    pub valid_until: Option<i64>,
    /// Offered now.
    #[sqlx(try_from = "Flag")]
    pub active: bool,
}

/// An offer's editable fields, checked by the caller.
#[derive(Debug, Clone)]
pub struct NewOffer {
    /// Id.
    pub id: String,
    /// Merchant.
    pub merchant_id: String,
    /// Title.
    pub title: String,
    /// Points.
    pub points: i64,
    /// Stock.
    pub stock: Option<i64>,
    /// Per-person limit.
    pub per_person_limit: Option<i64>,
    /// Valid until, Unix ms.
    pub valid_until: Option<i64>,
    /// Active.
    pub active: bool,
}

const MERCHANT_COLUMNS: &str = "m.id, m.name, m.address, m.lat, m.lon, m.station, m.hours,
     (SELECT COUNT(*) FROM merchant_offers o WHERE o.merchant_id = m.id AND o.active) AS offers,
     m.created_at, m.updated_at";

const OFFER_COLUMNS: &str =
    "id, merchant_id, title, points, stock, per_person_limit, valid_until, active";

/// Why a merchant could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    /// The generated login was refused (422; cannot happen with the ids `Ident` allows).
    #[error(transparent)]
    Invalid(#[from] crate::domain::Invalid),
    /// From the database (409 for a taken id or username, 500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing the password failed (500).
    #[error(transparent)]
    Hash(#[from] anyhow::Error),
}

impl Store {
    /// Registers a merchant and its `merchant` user `username` with `password`, in one
    /// transaction; 409 when the id or the username is taken.
    pub async fn create_merchant(
        &self,
        m: &NewMerchant,
        username: &str,
        password: &str,
    ) -> Result<MerchantRow, MerchantError> {
        check_username(username)?;
        check_password(password)?;
        let hash = hash_password(&self.password_checks, password).await?;
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        // A deleted merchant's redemptions and ledger account are kept: a new merchant
        // under its id would inherit its settlement and its customers' limits.
        let (history,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM redemptions WHERE merchant_id = $1)
                  + (SELECT COUNT(*) FROM points_accounts WHERE id = $2)",
        )
        .bind(&m.id)
        .bind(super::points::merchant_account(&m.id))
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if history > 0 {
            return Err(StoreError::Conflict(format!(
                "merchant id {} was used by a deleted merchant whose redemptions are kept; choose another id",
                m.id
            ))
            .into());
        }
        sqlx::query(
            "INSERT INTO merchants (id, name, address, lat, lon, station, hours, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&m.id)
        .bind(&m.name)
        .bind(&m.address)
        .bind(m.lat)
        .bind(m.lon)
        .bind(m.station)
        .bind(&m.hours)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("merchant {} already exists", m.id)))?;
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, merchant_id, created_at, disabled)
             VALUES ($1, $2, 'merchant', $3, $4, FALSE)",
        )
        .bind(username)
        .bind(hash)
        .bind(&m.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("user {username} already exists")))?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(self.merchant(&m.id).await?)
    }

    /// All merchants, by id.
    pub async fn merchants(&self) -> Result<Vec<MerchantRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MERCHANT_COLUMNS} FROM merchants m ORDER BY m.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "merchants", "id")
    }

    /// One merchant.
    pub async fn merchant(&self, id: &str) -> Result<MerchantRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MERCHANT_COLUMNS} FROM merchants m WHERE m.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        decode_opt(row, "merchants", "id")?
            .ok_or_else(|| StoreError::NotFound(format!("merchant {id}")))
    }

    /// Overwrites a merchant's fields. Turning a station into a plain shop while
    /// responders are based there is refused (409): move them first.
    pub async fn update_merchant(&self, m: &NewMerchant) -> Result<MerchantRow, StoreError> {
        let mut tx = self.begin_write("merchants").await?;
        if !m.station {
            let (based,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM responders WHERE station_id = $1")
                    .bind(&m.id)
                    .fetch_one(&mut *tx)
                    .await?;
            if based > 0 {
                return Err(StoreError::Conflict(format!(
                    "{based} responder(s) are based at station {}; move them before it stops being a station",
                    m.id
                )));
            }
        }
        let done = sqlx::query(
            "UPDATE merchants SET name = $1, address = $2, lat = $3, lon = $4, station = $5, hours = $6, updated_at = $7
             WHERE id = $8",
        )
        .bind(&m.name)
        .bind(&m.address)
        .bind(m.lat)
        .bind(m.lon)
        .bind(m.station)
        .bind(&m.hours)
        .bind(now_ms())
        .bind(&m.id)
        .execute(&mut *tx)
        .await?;
        one_row(&done, || format!("merchant {}", m.id))?;
        tx.commit().await?;
        self.merchant(&m.id).await
    }

    /// Deletes a merchant with its offers and its user (and that user's sessions);
    /// responders based there lose their station.
    pub async fn delete_merchant(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM merchants WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(&done, || format!("merchant {id}"))
    }

    /// Whether merchant `id` is a station; `None` when there is no such merchant.
    pub async fn is_station(&self, id: &str) -> Result<Option<bool>, StoreError> {
        let row: Option<(Flag,)> = sqlx::query_as("SELECT station FROM merchants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(s,)| s.0))
    }

    /// Adds an offer; 404 when the merchant does not exist, 409 when the id is taken.
    pub async fn create_offer(&self, o: &NewOffer) -> Result<OfferRow, StoreError> {
        if self.is_station(&o.merchant_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("merchant {}", o.merchant_id)));
        }
        // Redemptions name the offer alone and count per person by it: a deleted offer's id
        // stays its own.
        let (used,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM redemptions WHERE offer_id = $1")
                .bind(&o.id)
                .fetch_one(&self.pool)
                .await?;
        if used > 0 {
            return Err(StoreError::Conflict(format!(
                "offer id {} was used by a deleted offer whose redemptions are kept; choose another id",
                o.id
            )));
        }
        let now = now_ms();
        sqlx::query(
            "INSERT INTO merchant_offers (id, merchant_id, title, points, stock, per_person_limit, valid_until, active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&o.id)
        .bind(&o.merchant_id)
        .bind(&o.title)
        .bind(o.points)
        .bind(o.stock)
        .bind(o.per_person_limit)
        .bind(o.valid_until)
        .bind(o.active)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("offer {} already exists", o.id)))?;
        self.offer(&o.merchant_id, &o.id).await
    }

    /// The offers of a merchant, by id (inactive ones too).
    pub async fn offers_of(&self, merchant_id: &str) -> Result<Vec<OfferRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM merchant_offers WHERE merchant_id = $1 ORDER BY id"
        ))
        .bind(merchant_id)
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "merchant_offers", "id")
    }

    /// One offer of a merchant (404 for another merchant's offer as for a missing one).
    pub async fn offer(&self, merchant_id: &str, id: &str) -> Result<OfferRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM merchant_offers WHERE merchant_id = $1 AND id = $2"
        ))
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        decode_opt(row, "merchant_offers", "id")?
            .ok_or_else(|| StoreError::NotFound(format!("offer {id} of merchant {merchant_id}")))
    }

    /// Overwrites an offer's fields.
    pub async fn update_offer(&self, o: &NewOffer) -> Result<OfferRow, StoreError> {
        let done = sqlx::query(
            "UPDATE merchant_offers SET title = $1, points = $2, stock = $3, per_person_limit = $4,
                    valid_until = $5, active = $6, updated_at = $7
             WHERE merchant_id = $8 AND id = $9",
        )
        .bind(&o.title)
        .bind(o.points)
        .bind(o.stock)
        .bind(o.per_person_limit)
        .bind(o.valid_until)
        .bind(o.active)
        .bind(now_ms())
        .bind(&o.merchant_id)
        .bind(&o.id)
        .execute(&self.pool)
        .await?;
        one_row(&done, || {
            format!("offer {} of merchant {}", o.id, o.merchant_id)
        })?;
        self.offer(&o.merchant_id, &o.id).await
    }

    /// Deletes an offer of a merchant.
    pub async fn delete_offer(&self, merchant_id: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM merchant_offers WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(&done, || format!("offer {id} of merchant {merchant_id}"))
    }

    /// The offers a volunteer can redeem at `now_ms`: active, in stock and still valid,
    /// each with its merchant; by merchant, then offer id.
    pub async fn available_offers(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(OfferRow, MerchantRow)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, merchant_id, title, points, stock, per_person_limit, valid_until, active
             FROM merchant_offers
             WHERE active AND (stock IS NULL OR stock > 0) AND (valid_until IS NULL OR valid_until > $1)
             ORDER BY merchant_id, id",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        let offers: Vec<OfferRow> = decode_all(rows, "merchant_offers", "id")?;
        let merchants: std::collections::HashMap<String, MerchantRow> = self
            .merchants()
            .await?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        Ok(offers
            .into_iter()
            .filter_map(|o| {
                let m = merchants.get(&o.merchant_id)?.clone();
                Some((o, m))
            })
            .collect())
    }
}
