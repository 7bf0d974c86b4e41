//! Reading rows at the store boundary. Rows carry the domain's enums (states, kinds,
//! roles), decoded here: a name the schema should never hold is an error that names the
//! table, the row and the value ([`StoreError::BadRow`]), never a silent default.
//!
//! The enums decode as columns themselves (the impls below) rather than through
//! `#[sqlx(try_from = "String")]`: sqlx 0.8.6's derive turns a `try_from` error into
//! "unprintable error", losing which value was wrong.

use sqlx::any::{AnyRow, AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, FromRow, Row, Type};

use super::StoreError;
use crate::domain::camera_health::CameraStatus;
use crate::domain::closed_loop::TaskPurpose;
use crate::domain::timeline::Event;
use crate::domain::{
    AccountKind, IncidentState, ResponderKind, Role, TaskStatus, TravelMode, UnknownName, ZoneKind,
};

/// Lets each enum be read from its text column; an unknown name fails with
/// [`UnknownName`], which [`decode`] turns into [`StoreError::BadRow`].
macro_rules! stored_name {
    ($($t:ty),+ $(,)?) => {$(
        impl Type<Any> for $t {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <String as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $t {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<Any>>::decode(value)?;
                Ok(<$t>::try_from(text)?)
            }
        }
    )+};
}

stored_name!(
    AccountKind,
    CameraStatus,
    Event,
    IncidentState,
    ResponderKind,
    Role,
    TaskPurpose,
    TaskStatus,
    TravelMode,
    ZoneKind,
);

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
                // sqlx quotes a column named by its name.
                problem: format!("{} {bad}", index.trim_matches('"')),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::*;
    use crate::domain::camera_health::CameraStatus;
    use crate::domain::timeline::Event;
    use crate::domain::{IncidentState, ResponderKind, Role, TaskStatus, TravelMode, ZoneKind};

    /// A fresh SQLite store (one connection, so the pragma below holds for every query)
    /// and its folder.
    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        (Store::connect(&url, 1).await.unwrap(), dir)
    }

    /// Writes a value the schema should never hold, past its CHECK constraint if any.
    async fn corrupt(store: &Store, sql: &str) {
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query("PRAGMA ignore_check_constraints = ON")
            .execute(&mut *conn)
            .await
            .unwrap();
        let done = sqlx::query(sql).execute(&mut *conn).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
        sqlx::query("PRAGMA ignore_check_constraints = OFF")
            .execute(&mut *conn)
            .await
            .unwrap();
    }

    fn message<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
        let e = r.expect_err("a bad row must be an error, not a default");
        assert!(matches!(e, StoreError::BadRow { .. }), "{e:?}");
        e.to_string()
    }

    fn incident(id: &str) -> IncidentRow {
        IncidentRow {
            id: id.into(),
            kind: "fire".into(),
            severity: 2,
            state: IncidentState::New,
            lat: 30.5,
            lon: 114.3,
            zone_id: None,
            title: "fire".into(),
            description: None,
            address: None,
            rendezvous: None,
            offers_made: 0,
            manual: false,
            created_at: 1,
            updated_at: 1,
            last_alert_at: 1,
            milestones: Default::default(),
        }
    }

    #[tokio::test]
    async fn an_unknown_incident_state_names_the_incident() {
        let (s, _dir) = store().await;
        s.apply(&[Write::InsertIncident(incident("inc-123"))], &mut [])
            .await
            .unwrap();
        assert_eq!(
            s.incident("inc-123").await.unwrap().state,
            IncidentState::New
        );
        corrupt(
            &s,
            "UPDATE incidents SET state = 'bogus' WHERE id = 'inc-123'",
        )
        .await;
        let want = r#"incidents row inc-123: state "bogus" is not an incident state"#;
        assert_eq!(message(s.incident("inc-123").await), want);
        assert_eq!(message(s.open_incidents().await), want);
        assert_eq!(message(s.incidents(&[], None, 10).await), want);
    }

    #[tokio::test]
    async fn an_unknown_task_status_names_the_task() {
        let (s, _dir) = store().await;
        let task = TaskRow {
            id: "tsk-1".into(),
            incident_id: "inc-1".into(),
            responder_id: "w1".into(),
            status: TaskStatus::Offered,
            version: 1,
            status_version: 1,
            offered_at: 1,
            respond_by: 2,
            eta_secs: None,
            distance_m: None,
            note: None,
            updated_at: 1,
            accepted_at: None,
            purpose: crate::domain::closed_loop::TaskPurpose::Respond,
            purpose_note: None,
        };
        s.apply(
            &[
                Write::InsertIncident(incident("inc-1")),
                Write::InsertTask(task),
            ],
            &mut [],
        )
        .await
        .unwrap();
        assert_eq!(
            s.tasks_of("inc-1").await.unwrap()[0].status,
            TaskStatus::Offered
        );
        corrupt(&s, "UPDATE tasks SET status = 'lost' WHERE id = 'tsk-1'").await;
        let want = r#"tasks row tsk-1: status "lost" is not a task status"#;
        assert_eq!(message(s.tasks_of("inc-1").await), want);
        assert_eq!(message(s.tasks_of_open_incidents().await), want);
    }

    #[tokio::test]
    async fn an_unknown_timeline_state_names_the_line() {
        let (s, _dir) = store().await;
        let event = Event::AlertOpened {
            alert: "call-1".into(),
        };
        let states = (None, IncidentState::New);
        let line = TimelineRow::new("inc-1", 1, "dispatcher", states, Some(event.clone()));
        s.apply(
            &[
                Write::InsertIncident(incident("inc-1")),
                Write::Timeline(line),
            ],
            &mut [],
        )
        .await
        .unwrap();
        let read = s.timeline("inc-1").await.unwrap();
        assert_eq!(
            (read[0].from_state, read[0].to_state),
            (None, IncidentState::New)
        );
        assert_eq!(read[0].event.as_ref(), Some(&event));
        assert_eq!(read[0].note.as_deref(), Some("alert call-1"));
        let seq = read[0].seq;
        corrupt(&s, "UPDATE timeline SET event = '{\"code\":\"beamed\"}'").await;
        assert_eq!(
            message(s.timeline("inc-1").await),
            format!(
                r#"timeline row {seq}: event "{{\"code\":\"beamed\"}}" is not a timeline event"#
            )
        );
        corrupt(&s, "UPDATE timeline SET event = NULL").await;
        corrupt(&s, "UPDATE timeline SET from_state = 'limbo'").await;
        assert_eq!(
            message(s.timeline("inc-1").await),
            format!(r#"timeline row {seq}: from_state "limbo" is not an incident state"#)
        );
        corrupt(
            &s,
            "UPDATE timeline SET from_state = NULL, to_state = 'limbo'",
        )
        .await;
        assert_eq!(
            message(s.timeline("inc-1").await),
            format!(r#"timeline row {seq}: to_state "limbo" is not an incident state"#)
        );
    }

    #[tokio::test]
    async fn an_unknown_zone_kind_names_the_zone() {
        let (s, _dir) = store().await;
        let zone = ZoneRow {
            id: "z1".into(),
            name: "Z1".into(),
            kind: ZoneKind::Beat,
            geometry: r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#.into(),
            properties: "{}".into(),
        };
        s.put_zones(&[zone], false).await.unwrap();
        assert_eq!(s.zones().await.unwrap()[0].kind, ZoneKind::Beat);
        corrupt(&s, "UPDATE zones SET kind = 'ring' WHERE id = 'z1'").await;
        assert_eq!(
            message(s.zones().await),
            r#"zones row z1: kind "ring" is not a zone kind"#
        );
    }

    #[tokio::test]
    async fn an_unknown_responder_kind_or_travel_mode_names_the_responder() {
        let (s, _dir) = store().await;
        s.create_responder(&NewResponder {
            id: "w1".into(),
            name: "W1".into(),
            kind: ResponderKind::Patrol,
            travel: TravelMode::Car,
            zone_id: None,
            skills: "[]".into(),
            on_duty: true,
            station_id: None,
        })
        .await
        .unwrap();
        let r = s.responder("w1").await.unwrap();
        assert_eq!((r.kind, r.travel), (ResponderKind::Patrol, TravelMode::Car));
        corrupt(
            &s,
            "UPDATE responders SET travel = 'jetpack' WHERE id = 'w1'",
        )
        .await;
        let want = r#"responders row w1: travel "jetpack" is not a travel mode"#;
        assert_eq!(message(s.responder("w1").await), want);
        assert_eq!(message(s.responders().await), want);
        corrupt(
            &s,
            "UPDATE responders SET travel = 'car', kind = 'ninja' WHERE id = 'w1'",
        )
        .await;
        assert_eq!(
            message(s.responders().await),
            r#"responders row w1: kind "ninja" is not a responder kind"#
        );
    }

    #[tokio::test]
    async fn an_unknown_mqtt_account_kind_names_the_login() {
        let (s, _dir) = store().await;
        let creds = s.create_source("cam", "Cameras").await.unwrap();
        let owner = s
            .check_mqtt_login(&creds.username, &creds.password)
            .await
            .unwrap();
        assert_eq!(owner, Some(AccountOwner::Source("cam".into())));
        corrupt(&s, "UPDATE mqtt_accounts SET principal = 'robot'").await;
        let want = r#"mqtt_accounts row source-cam: principal "robot" is not an MQTT account kind"#;
        assert_eq!(message(s.mqtt_accounts().await), want);
        assert_eq!(
            message(s.check_mqtt_login(&creds.username, &creds.password).await),
            want
        );
        // A wrong password is still just a refusal.
        assert_eq!(
            s.check_mqtt_login(&creds.username, "nope").await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn an_unknown_camera_status_names_the_camera_or_history_line() {
        let (s, _dir) = store().await;
        let camera = CameraRow {
            id: "c1".into(),
            name: "Gate".into(),
            lat: 30.5,
            lon: 114.3,
            zone_id: None,
            stream_uri: None,
            gb28181_id: None,
            heading: None,
            fov: None,
            onvif_metadata: false,
        };
        s.create_camera(&camera).await.unwrap();
        s.set_camera_status(&CameraStatusWrite {
            camera_id: "c1".into(),
            health: CameraHealthRow {
                status: CameraStatus::Offline,
                status_since: Some(5),
                last_seen: None,
                last_error: Some("gone".into()),
            },
            at: 5,
            reason: Some("gone".into()),
            stream: None,
        })
        .await
        .unwrap();
        assert_eq!(
            s.camera_view("c1").await.unwrap().health.status,
            CameraStatus::Offline
        );
        let seq = s.camera_history("c1", None, 1000).await.unwrap()[0].seq;
        corrupt(&s, "UPDATE camera_history SET status = 'melted'").await;
        assert_eq!(
            message(s.camera_history("c1", None, 1000).await),
            format!(r#"camera_history row {seq}: status "melted" is not a camera status"#)
        );
        corrupt(&s, "UPDATE cameras SET status = 'melted' WHERE id = 'c1'").await;
        let want = r#"cameras row c1: status "melted" is not a camera status"#;
        assert_eq!(message(s.camera_view("c1").await), want);
        assert_eq!(message(s.camera_views().await), want);
    }

    #[tokio::test]
    async fn an_unknown_role_names_the_user_or_token() {
        let (s, _dir) = store().await;
        let s = s.with_password_check_limit(1);
        s.create_user("alice", "correct horse", Role::Operator)
            .await
            .unwrap();
        let cookie = s.create_session("alice", 60_000).await.unwrap();
        assert_eq!(s.user("alice").await.unwrap().role, Role::Operator);
        corrupt(
            &s,
            "UPDATE users SET role = 'root' WHERE username = 'alice'",
        )
        .await;
        let want = r#"users row alice: role "root" is not a role"#;
        assert_eq!(message(s.user("alice").await), want);
        assert_eq!(message(s.users().await), want);
        assert_eq!(message(s.check_login("alice", "correct horse").await), want);
        assert_eq!(message(s.session_user(&cookie, 60_000).await), want);

        let token = s.create_token("frigate", Role::Viewer).await.unwrap();
        corrupt(&s, "UPDATE api_tokens SET role = 'root'").await;
        let got = message(s.token_role(&token).await);
        assert!(
            got.starts_with("api_tokens row ") && got.ends_with(r#": role "root" is not a role"#),
            "{got}"
        );
    }
}
