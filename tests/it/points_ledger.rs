//! The points ledger's guarantees at the store, where redemption will build on them:
//! concurrent reservations of one balance, a hold confirmed once (for its own merchant
//! only) or released once, replays, corrections, the append-only triggers, expiry in lots
//! soonest first and the balance cap. The ledger is audited after every scenario (see
//! `points`). Both databases.

use griddispatch::clock::now_ms;
use griddispatch::store::points::{
    ConfirmOutcome, Correction, LedgerQuery, NewAward, PointsError, Reservation,
};
use griddispatch::store::Store;

use crate::common::TestApp;
use crate::points::{assert_sound, history, settings, store};

const MONTH_MS: i64 = 31 * 86_400_000;

/// A reservation of v1's points for merchant m1.
fn hold(id: &str, points: i64, expires_at: i64) -> Reservation {
    Reservation {
        hold_id: id.into(),
        responder_id: "v1".into(),
        merchant_id: "m1".into(),
        points,
        expires_at,
        actor: "responder:v1".into(),
    }
}

/// Credits `points` to `rid` as an award approved at once, at time `at`.
pub(crate) async fn credit(store: &Store, rid: &str, points: i64, at: i64) -> String {
    let mut p = settings();
    p.award_approval_above = i64::MAX;
    let a = NewAward {
        responder_id: rid.into(),
        points,
        reason: "test".into(),
        proposed_by: "admin:test".into(),
    };
    store
        .propose_award(&a, &p, at)
        .await
        .unwrap()
        .movement_id
        .unwrap()
}

#[tokio::test]
async fn two_phones_spending_one_balance_at_once_never_go_below_zero() {
    let app = TestApp::spawn(&[]).await;
    let store = store(&app);
    credit(&store, "v1", 100, now_ms()).await;
    let expires = now_ms() + 300_000;
    // 20 reservations of 30 at once: exactly three fit in 100.
    let tries = (0..20).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .reserve_points(&hold(&format!("h{n}"), 30, expires), now_ms())
                .await
        })
    });
    let results = futures::future::join_all(tries).await;
    let mut held = 0;
    for r in results {
        match r.unwrap() {
            Ok(h) => {
                assert_eq!(h.state, "held");
                held += 1;
            }
            Err(PointsError::Insufficient { available, wanted }) => {
                assert_eq!((available, wanted), (10, 30));
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(held, 3);
    let a = store.points_account("v1", now_ms()).await.unwrap();
    assert_eq!((a.balance, a.reserved), (10, 90));
    assert_sound(&store).await;
}

#[tokio::test]
async fn a_hold_is_confirmed_once_released_once_and_replays_move_nothing() {
    let app = TestApp::spawn(&[]).await;
    let store = store(&app);
    credit(&store, "v1", 100, now_ms()).await;
    let later = now_ms() + 300_000;
    let h = store
        .reserve_points(&hold("r1", 40, later), now_ms())
        .await
        .unwrap();
    // The same request again: the same hold, nothing more reserved.
    let again = store
        .reserve_points(&hold("r1", 40, later), now_ms())
        .await
        .unwrap();
    assert_eq!(h, again);
    assert_eq!(store.points_balance("reserved:v1").await.unwrap(), 40);
    // Another merchant's confirmation moves nothing.
    assert_eq!(
        store
            .confirm_hold("r1", "m2", "merchant:m2", now_ms())
            .await
            .unwrap(),
        ConfirmOutcome::OtherMerchant
    );
    // 50 confirmations at once: exactly one moves the points.
    let tries = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .confirm_hold("r1", "m1", "merchant:m1", now_ms())
                .await
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let confirmed = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::Confirmed(_)))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::AlreadyConfirmed(_)))
        .count();
    assert_eq!((confirmed, refused), (1, 49));
    assert_eq!(store.points_balance("merchant:m1").await.unwrap(), 40);
    assert!(store.release_hold("r1", "x", now_ms()).await.is_err());
    // A released hold gives its points back once, and cannot be confirmed after.
    store
        .reserve_points(&hold("r2", 20, later), now_ms())
        .await
        .unwrap();
    let released = store.release_hold("r2", "x", now_ms()).await.unwrap();
    assert_eq!(released.state, "released");
    assert_eq!(
        store.release_hold("r2", "x", now_ms()).await.unwrap(),
        released
    );
    assert!(matches!(
        store.confirm_hold("r2", "m1", "x", now_ms()).await.unwrap(),
        ConfirmOutcome::Released(_)
    ));
    // A lapsed hold (a crash between reserve and confirm) is released on confirmation,
    // or by the periodic sweep.
    let past = now_ms() - 1;
    store
        .reserve_points(&hold("r3", 10, past), now_ms())
        .await
        .unwrap();
    assert!(matches!(
        store.confirm_hold("r3", "m1", "x", now_ms()).await.unwrap(),
        ConfirmOutcome::Expired(_)
    ));
    store
        .reserve_points(&hold("r4", 10, past), now_ms())
        .await
        .unwrap();
    assert_eq!(store.points_balance("reserved:v1").await.unwrap(), 10);
    assert_eq!(store.release_lapsed_holds(now_ms()).await.unwrap(), 1);
    assert_eq!(store.hold("r4").await.unwrap().state, "released");
    let a = store.points_account("v1", now_ms()).await.unwrap();
    assert_eq!((a.balance, a.reserved, a.redeemed_total), (60, 0, 40));
    // A replayed award (same key) credits nothing more; the ledger refuses edits.
    let before = store.points_balance("responder:v1").await.unwrap();
    let p = settings();
    let key = "correct:test-1";
    let fix = |points: i64, key: &str| Correction {
        responder_id: "v1".into(),
        points,
        key: key.into(),
        actor: "admin:a".into(),
        note: "fix".into(),
    };
    store
        .correct_points(&fix(5, key), &p, now_ms())
        .await
        .unwrap();
    store
        .correct_points(&fix(5, key), &p, now_ms())
        .await
        .unwrap();
    assert_eq!(
        store.points_balance("responder:v1").await.unwrap(),
        before + 5
    );
    assert!(matches!(
        store
            .correct_points(&fix(-1000, "correct:test-2"), &p, now_ms())
            .await,
        Err(PointsError::Insufficient { .. })
    ));
    assert_sound(&store).await;
    for sql in [
        "UPDATE points_entries SET amount = 1000",
        "DELETE FROM points_movements",
    ] {
        assert!(
            store_exec(&app, sql).await.is_err(),
            "{sql} must be refused"
        );
    }
    assert_sound(&store).await;
}

/// Runs `sql` on the test database directly.
async fn store_exec(app: &TestApp, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    if app.db_url.starts_with("postgres") {
        let mut c = sqlx::postgres::PgConnection::connect(&app.db_url).await?;
        sqlx::query(sql).execute(&mut c).await.map(|_| ())
    } else {
        let mut c = sqlx::sqlite::SqliteConnection::connect(&app.db_url).await?;
        sqlx::query(sql).execute(&mut c).await.map(|_| ())
    }
}

#[tokio::test]
async fn points_expire_in_lots_soonest_first_and_the_record_stays() {
    let app = TestApp::spawn(&[]).await;
    let store = store(&app);
    app.responder("v1", "volunteer", "foot", None).await;
    let now = now_ms();
    // Lot A: earned 35 months ago (expires in about a month); lot B: now.
    let a = credit(&store, "v1", 30, now - 35 * MONTH_MS + 5 * 86_400_000).await;
    let b = credit(&store, "v1", 50, now).await;
    // Spending takes the soonest-expiring lot first.
    store
        .reserve_points(&hold("s1", 20, now + 300_000), now)
        .await
        .unwrap();
    let moves = app.get("/api/v1/points/ledger?account=reserved:v1").await;
    let entries = moves[0]["entries"].as_array().unwrap().clone();
    assert!(
        entries.iter().all(|e| e["lot_id"] == a.as_str()),
        "{entries:?}"
    );
    assert!(matches!(
        store.confirm_hold("s1", "m1", "x", now).await.unwrap(),
        ConfirmOutcome::Confirmed(_)
    ));
    // Two months on, what is left of lot A (10) expires; lot B stays.
    let later = now + 2 * MONTH_MS;
    assert_eq!(store.expire_points(later).await.unwrap(), 10);
    assert_eq!(store.expire_points(later).await.unwrap(), 0);
    let acc = store.points_account("v1", later).await.unwrap();
    assert_eq!(
        (acc.balance, acc.expired_total, acc.awarded_total),
        (50, 10, 80)
    );
    assert_eq!(store.points_balance("expiry").await.unwrap(), 10);
    // The record stays: the award that issued lot A is still in the history, beside the
    // expiry that points back to it.
    let h = history(&app, "v1").await;
    assert!(h.iter().any(|l| l["id"] == a.as_str()), "{h:?}");
    let expired = h.iter().find(|l| l["kind"] == "expire").unwrap();
    assert_eq!(expired["cause"]["id"], a.as_str());
    assert_eq!(expired["change"], -10);
    assert!(h.iter().any(|l| l["id"] == b.as_str()));
    assert_sound(&store).await;
}

#[tokio::test]
async fn the_balance_cap_cuts_a_credit_and_says_so() {
    let app = TestApp::spawn(&[]).await;
    let store = store(&app);
    let mut p = settings();
    p.balance_cap = 50;
    p.award_approval_above = i64::MAX;
    let award = |points: i64| NewAward {
        responder_id: "v1".into(),
        points,
        reason: "冬季扫雪".into(),
        proposed_by: "admin:a".into(),
    };
    store.propose_award(&award(30), &p, now_ms()).await.unwrap();
    // Reserved points count as held: 30 held, 20 more fit under the cap of 50.
    store
        .reserve_points(&hold("c1", 10, now_ms() + 300_000), now_ms())
        .await
        .unwrap();
    store.propose_award(&award(40), &p, now_ms()).await.unwrap();
    let a = store.points_account("v1", now_ms()).await.unwrap();
    assert_eq!((a.balance, a.reserved, a.awarded_total), (40, 10, 50));
    let moves = store
        .points_ledger(&LedgerQuery {
            account: Some("responder:v1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let capped = moves
        .iter()
        .find(|m| m.movement.kind == "award" && m.movement.points == 20);
    let note = capped
        .and_then(|m| m.movement.note.clone())
        .unwrap_or_default();
    assert!(
        note.contains("20 of 40 credited (balance cap)"),
        "{moves:?}"
    );
    assert_sound(&store).await;
}
