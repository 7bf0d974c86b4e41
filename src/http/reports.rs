//! `/api/v1/reports/summary`: the evaluation report (docs/reports.md) as JSON, CSV and an
//! Excel workbook. Viewer role.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Viewer;
use super::error::{ApiError, Query};
use super::{rfc3339, AppState};
use crate::domain::report::{self, Cell, GroupBy, Period, ReportRow};
use crate::store::now_ms;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(summary_csv))
        .routes(routes!(summary_xlsx))
}

/// `?from=…&to=…&group_by=…`. `from` and `to` are required (422 without them); they are
/// `Option` so that the message names the missing one in our words.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SummaryQuery {
    /// RFC 3339, or `YYYY-MM-DD` (that day's start).
    from: Option<String>,
    /// RFC 3339 (excluded), or `YYYY-MM-DD` (that day included).
    to: Option<String>,
    /// `zone` (default), `responder`, `kind`, `source` or `day`.
    group_by: Option<String>,
}

/// The report.
#[derive(Debug, Serialize, ToSchema)]
struct Summary {
    /// First instant included, RFC 3339 UTC.
    from: String,
    /// First instant excluded.
    to: String,
    /// The grouping.
    group_by: GroupBy,
    /// When the figures were taken (what is overdue depends on it).
    generated_at: String,
    /// One row per group, in the order of their names.
    rows: Vec<ReportRow>,
    /// Every group together (its percentiles are over all the values, not of the rows).
    total: ReportRow,
}

/// Checks the query and computes the report.
async fn compute(st: &AppState, q: SummaryQuery) -> Result<Summary, ApiError> {
    let missing = |f: &str| ApiError::Unprocessable(format!("{f}: required"));
    let from = q.from.ok_or_else(|| missing("from"))?;
    let to = q.to.ok_or_else(|| missing("to"))?;
    let group_by = GroupBy::parse(q.group_by.as_deref().unwrap_or("zone"))?;
    let settings = &st.reports;
    let period = Period::parse(&from, &to, settings.utc_offset, settings.max_days)?;
    let now = now_ms();
    let offset_ms = i64::from(settings.utc_offset.local_minus_utc()) * 1000;
    let inputs = st
        .store
        .report_inputs(period, group_by, offset_ms, now)
        .await?;
    let (rows, total) = report::rows(&inputs, &settings.score, &settings.grades);
    Ok(Summary {
        from: rfc3339(period.from),
        to: rfc3339(period.to),
        group_by,
        generated_at: rfc3339(now),
        rows,
        total,
    })
}

/// The evaluation report of a period (docs/reports.md), one row per group and the total.
#[utoipa::path(
    get,
    path = "/api/v1/reports/summary",
    tag = "reports",
    params(SummaryQuery),
    responses((status = 200, description = "The report.", body = Summary))
)]
async fn summary(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(compute(&st, q).await?))
}

/// The file name for a download: `report-zone-20260101-20260201.csv` (the bounds' UTC dates).
fn file_name(s: &Summary, ext: &str) -> String {
    let day = |t: &str| t.get(..10).unwrap_or(t).replace('-', "");
    format!(
        "report-{}-{}-{}.{ext}",
        s.group_by.as_str(),
        day(&s.from),
        day(&s.to)
    )
}

/// The rows then the total, as cells.
fn table(s: &Summary) -> impl Iterator<Item = Vec<Cell>> + '_ {
    s.rows
        .iter()
        .chain(std::iter::once(&s.total))
        .map(ReportRow::cells)
}

/// A download: `body` as `name`.
pub(super) fn attachment(content_type: &'static str, name: String, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A CSV download: a header row, then `rows`, as `name`. A cell that a spreadsheet would
/// run as a formula (text starting with `=`, `+`, `-`, `@`, tab or carriage return, and
/// not a number) is written with a leading `'`: names and notes come from other people.
pub(super) fn csv_attachment<R, C>(
    header: impl IntoIterator<Item = C>,
    rows: impl IntoIterator<Item = R>,
    name: String,
) -> Result<Response, ApiError>
where
    R: IntoIterator<Item = String>,
    C: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| ApiError::Internal(anyhow::anyhow!("csv: {e}"));
    w.write_record(header).map_err(csv_err)?;
    for row in rows {
        w.write_record(row.into_iter().map(inert_cell))
            .map_err(csv_err)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(attachment("text/csv; charset=utf-8", name, body))
}

/// `cell`, with a leading `'` when a spreadsheet would take it for a formula.
fn inert_cell(cell: String) -> String {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.trim().parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The report as CSV: a header row, one row per group, the total last; downloaded as
/// `report-<group_by>-<from>-<to>.csv`.
#[utoipa::path(
    get,
    path = "/api/v1/reports/summary.csv",
    tag = "reports",
    params(SummaryQuery),
    responses((status = 200, description = "The report, UTF-8 CSV.", body = String,
               content_type = "text/csv",
               headers(("Content-Disposition" = String, description = "attachment; filename=\"report-….csv\""))))
)]
async fn summary_csv(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<SummaryQuery>,
) -> Result<Response, ApiError> {
    let s = compute(&st, q).await?;
    let rows = table(&s).map(|cells| {
        cells
            .into_iter()
            .map(|c| match c {
                Cell::Text(t) => t,
                Cell::Int(n) => n.to_string(),
                Cell::Num(x) => x.to_string(),
                Cell::Empty => String::new(),
            })
            .collect::<Vec<_>>()
    });
    csv_attachment(report::columns(), rows, file_name(&s, "csv"))
}

/// The workbook: sheet `summary` (a header row, one row per group, the total last) and
/// sheet `period` (from, to, group_by, generated_at).
fn workbook(s: &Summary) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = wb.add_worksheet();
    sheet.set_name("summary")?;
    for (col, name) in (0u16..).zip(report::columns()) {
        sheet.write_string_with_format(0, col, name, &bold)?;
    }
    for (row, cells) in (1u32..).zip(table(s)) {
        for (col, cell) in (0u16..).zip(cells) {
            match cell {
                Cell::Text(t) => sheet.write_string(row, col, t)?,
                // Counts stay well under 2^53, where f64 is exact.
                Cell::Int(n) => sheet.write_number(row, col, n as f64)?,
                Cell::Num(x) => sheet.write_number(row, col, x)?,
                Cell::Empty => sheet,
            };
        }
    }
    sheet.set_freeze_panes(1, 1)?;
    let period = wb.add_worksheet();
    period.set_name("period")?;
    for (row, (k, v)) in (0u32..).zip([
        ("from", s.from.as_str()),
        ("to", s.to.as_str()),
        ("group_by", s.group_by.as_str()),
        ("generated_at", s.generated_at.as_str()),
    ]) {
        period.write_string_with_format(row, 0, k, &bold)?;
        period.write_string(row, 1, v)?;
    }
    wb.save_to_buffer()
}

/// The report as an Excel workbook: sheet `summary` (as the CSV) and sheet `period`
/// (from, to, group_by, generated_at); downloaded as `report-<group_by>-<from>-<to>.xlsx`.
#[utoipa::path(
    get,
    path = "/api/v1/reports/summary.xlsx",
    tag = "reports",
    params(SummaryQuery),
    responses((status = 200, description = "The workbook.", body = Vec<u8>,
               content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               headers(("Content-Disposition" = String, description = "attachment; filename=\"report-….xlsx\""))))
)]
async fn summary_xlsx(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<SummaryQuery>,
) -> Result<Response, ApiError> {
    let s = compute(&st, q).await?;
    let name = file_name(&s, "xlsx");
    // Compressing a year of daily rows takes a moment: off the async workers.
    let body = tokio::task::spawn_blocking(move || workbook(&s))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("xlsx writer: {e}")))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("xlsx: {e}")))?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        name,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::inert_cell;

    #[test]
    fn formulas_are_written_as_text_and_numbers_stay_numbers() {
        assert_eq!(
            inert_cell("=HYPERLINK(\"http://x\")".into()),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(inert_cell("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(inert_cell("+86 138".into()), "'+86 138");
        assert_eq!(inert_cell("-12.5".into()), "-12.5");
        assert_eq!(inert_cell("乌达区".into()), "乌达区");
    }
}
