//! The demo volunteers spend some of the points their month of history earned: each
//! redeems one offer at a 喜邻 shop, confirmed there within minutes (so the merchant page,
//! the settlement and the phones' histories show real redemptions), and the last one's code
//! is left waiting at the counter. Written through the same store calls as
//! `POST /api/v1/redemptions` and the merchant's confirmation; their request ids make a
//! restart find them instead of spending again.

use crate::store::points::{Confirmation, NewRedemption, PointsError};
use crate::store::{Store, StoreError};

use super::merchants::{DEMO_MERCHANT, VOLUNTEERS};

/// The shops the volunteers spend at, each volunteer at the next one.
const SHOPS: [&str; 4] = [
    DEMO_MERCHANT,
    "xl-qiaoshou-barber",
    "xl-laowuda-noodles",
    "xl-guangming-grain",
];

const HOUR_MS: i64 = 3_600_000;

/// Writes the redemptions unless they are there; returns how many were made now.
pub async fn seed(store: &Store, valid_ms: i64, now: i64) -> Result<usize, PointsError> {
    let mut made = 0;
    let last = VOLUNTEERS.len().saturating_sub(1);
    for (n, (rid, ..)) in VOLUNTEERS.iter().enumerate() {
        let shop = SHOPS[n % SHOPS.len()];
        let mut offers = store.offers_of(shop).await?;
        offers.retain(|o| o.active && o.stock != Some(0));
        offers.sort_by_key(|o| o.points);
        // Earlier today, an hour apart; the last one now, its code still to be shown.
        let hours_ago = i64::try_from(last - n).unwrap_or(0);
        let at = now - hours_ago * HOUR_MS;
        for offer in &offers {
            let r = NewRedemption {
                responder_id: (*rid).to_owned(),
                offer_id: offer.id.clone(),
                request_id: format!("demo-{rid}"),
                valid_ms,
            };
            let (row, new) = match store.redeem(&r, at).await {
                Ok(done) => done,
                // Not enough points for this one: the next dearer will not do either.
                Err(PointsError::Insufficient { .. }) => break,
                Err(PointsError::Store(StoreError::Conflict(_))) => continue,
                Err(e) => return Err(e),
            };
            made += usize::from(new);
            if new && n != last {
                let actor = format!("merchant:merchant.{shop}");
                match store
                    .confirm_redemption(&row.code, shop, &actor, at + 2 * 60_000)
                    .await?
                {
                    Confirmation::Confirmed { .. } | Confirmation::AlreadyConfirmed(_) => {}
                    other => tracing::warn!(?other, "demo: a redemption was not confirmed"),
                }
            }
            break;
        }
    }
    Ok(made)
}
