//! Cursor pagination, the same for every list (docs/contract.md, "Lists and pages").
//!
//! A list keeps its body (a bare JSON array, as clients already read it) and says where the
//! next page starts in the `X-Next-Cursor` response header; the client passes it back as
//! `?cursor=`. The header is absent on the last page. A cursor is the sort key of the last
//! item sent, opaque to clients (base64url of a JSON array), so a page starts right after
//! it whatever was inserted or deleted meanwhile: walking a list loses and repeats nothing
//! that stayed in it.

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;

/// The response header naming the next page.
pub const NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// Longest cursor accepted, in characters (a key is a few ids and numbers).
const MAX_CURSOR: usize = 1024;

/// Cap of the lists read whole (responders, sources, cameras, users, merchants, a
/// merchant's offers): their first page, without `limit`, holds up to this many, so
/// clients that never page see everything below it.
pub const WHOLE_LIST_CAP: i64 = 5000;

/// `?cursor=&limit=` of a list that has no other query.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `X-Next-Cursor` of the page before.
    pub cursor: Option<String>,
    /// Items on the page.
    pub limit: Option<i64>,
}

impl PageQuery {
    /// The page of a list read whole (default and cap [`WHOLE_LIST_CAP`]).
    pub fn whole_list(&self) -> Result<Page, ApiError> {
        Page::new(
            self.cursor.as_deref(),
            self.limit,
            WHOLE_LIST_CAP,
            WHOLE_LIST_CAP,
        )
    }
}

/// One page asked for: at most `limit` items after the key `after` (`None`: the first page).
#[derive(Debug, Clone)]
pub struct Page {
    /// Items on this page.
    pub limit: i64,
    /// The sort key of the last item of the page before.
    pub after: Option<Vec<Value>>,
}

impl Page {
    /// Reads `cursor` and `limit`: a missing limit is `default`, one past `max` is `max`
    /// (the documented cap; the header tells there is more).
    pub fn new(
        cursor: Option<&str>,
        limit: Option<i64>,
        default: i64,
        max: i64,
    ) -> Result<Page, ApiError> {
        let limit = match limit {
            None => default,
            Some(l) if l < 1 => {
                return Err(ApiError::Unprocessable(format!(
                    "limit: must be 1 to {max}"
                )))
            }
            Some(l) => l.min(max),
        };
        let after = cursor.filter(|c| !c.is_empty()).map(decode).transpose()?;
        Ok(Page { limit, after })
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit.saturating_add(1)
    }

    /// The key after which this page starts, as `n` typed parts: a cursor of another
    /// shape (another list's) is refused.
    pub fn after_key(&self, n: usize) -> Result<Option<&[Value]>, ApiError> {
        match &self.after {
            Some(k) if k.len() == n => Ok(Some(k)),
            Some(_) => Err(bad_cursor()),
            None => Ok(None),
        }
    }

    /// Cuts `rows` (fetched with [`Page::fetch`], in list order) to the page and answers
    /// it, with the cursor of its last item when more follow.
    pub fn answer<T: Serialize, R>(
        &self,
        rows: Vec<R>,
        key: impl Fn(&R) -> Vec<Value>,
        view: impl Fn(&R) -> T,
    ) -> Response {
        let (rows, next) = self.cut(rows, key);
        let body: Vec<T> = rows.iter().map(view).collect();
        with_next(Json(body).into_response(), next)
    }

    /// Cuts `rows` (fetched with [`Page::fetch`], in list order) to the page; the cursor
    /// of its last item when more follow.
    pub fn cut<R>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> Vec<Value>,
    ) -> (Vec<R>, Option<String>) {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|r| encode(&key(r)))
        } else {
            None
        };
        (rows, next)
    }

    /// For a list read whole, keyed by a unique string (ids): sorted by it (byte order,
    /// whatever the database's collation), the items after the cursor, as a page.
    pub fn answer_sorted<T: Serialize, R>(
        &self,
        rows: Vec<R>,
        key: impl Fn(&R) -> &str,
        view: impl Fn(&R) -> T,
    ) -> Result<Response, ApiError> {
        let (rows, next) = self.cut_sorted(rows, &key)?;
        let body: Vec<T> = rows.iter().map(view).collect();
        Ok(with_next(Json(body).into_response(), next))
    }

    /// [`Page::answer_sorted`] for a body of another shape: the page's items, and the
    /// cursor for [`with_next`].
    pub fn cut_sorted<R>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> &str,
    ) -> Result<(Vec<R>, Option<String>), ApiError> {
        let after = match self.after_key(1)? {
            Some([Value::String(s)]) => Some(s.as_str()),
            Some(_) => return Err(bad_cursor()),
            None => None,
        };
        rows.sort_by(|a, b| key(a).cmp(key(b)));
        let fetch = usize::try_from(self.fetch()).unwrap_or(usize::MAX);
        let rows: Vec<R> = rows
            .into_iter()
            .filter(|r| after.is_none_or(|a| key(r) > a))
            .take(fetch)
            .collect();
        Ok(self.cut(rows, |r| vec![Value::from(key(r))]))
    }
}

/// Adds the `X-Next-Cursor` header when a next page exists.
pub fn with_next(mut response: Response, next: Option<String>) -> Response {
    if let Some(v) = next.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(NEXT_CURSOR, v);
    }
    response
}

/// A string part of a cursor key.
pub fn key_str(v: &Value) -> Result<&str, ApiError> {
    v.as_str().ok_or_else(bad_cursor)
}

/// A number part of a cursor key.
pub fn key_i64(v: &Value) -> Result<i64, ApiError> {
    v.as_i64().ok_or_else(bad_cursor)
}

fn bad_cursor() -> ApiError {
    ApiError::Unprocessable(
        "cursor: not one this list gave (pass X-Next-Cursor back as it came)".into(),
    )
}

fn encode(key: &[Value]) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode(cursor: &str) -> Result<Vec<Value>, ApiError> {
    if cursor.len() > MAX_CURSOR {
        return Err(bad_cursor());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad_cursor())?;
    serde_json::from_slice(&bytes).map_err(|_| bad_cursor())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cursor_comes_back_as_the_key_it_was_made_from() {
        let key = vec![json!(1_700_000_000_000_i64), json!("inc-1")];
        let page = Page::new(Some(&encode(&key)), None, 200, 1000).unwrap();
        assert_eq!(page.after.unwrap(), key);
        assert!(Page::new(Some("!!"), None, 200, 1000).is_err());
        assert!(Page::new(Some(&"A".repeat(2000)), None, 200, 1000).is_err());
        assert!(Page::new(None, Some(0), 200, 1000).is_err());
        assert_eq!(Page::new(None, Some(5000), 200, 1000).unwrap().limit, 1000);
    }

    #[test]
    fn a_sorted_list_is_walked_without_loss_or_repeat() {
        let ids: Vec<String> = (0..7).map(|i| format!("r{i}")).collect();
        let mut shuffled = ids.clone();
        shuffled.reverse();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = Page::new(cursor.as_deref(), Some(3), 3, 3).unwrap();
            let r = page
                .answer_sorted(shuffled.clone(), |s| s.as_str(), |s| s.clone())
                .unwrap();
            cursor = r
                .headers()
                .get(NEXT_CURSOR)
                .map(|v| v.to_str().unwrap().to_owned());
            let body = futures::executor::block_on(axum::body::to_bytes(r.into_body(), 1 << 20));
            let items: Vec<String> = serde_json::from_slice(&body.unwrap()).unwrap();
            seen.extend(items);
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, ids);
    }
}
