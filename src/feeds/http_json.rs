//! The `http_json` source: GET or POST a JSON endpoint, with bearer, basic or header auth,
//! page or cursor pagination, an incremental `since` parameter, a timeout and a ceiling on
//! the body size. Each page's records go to the caller before the next page is asked for.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::spec::{Auth, HttpJson, Pagination};
use super::{FetchError, Page, PageRecords};

/// Walks the pages of one run, one request a page.
pub struct Pager<'a> {
    spec: &'a HttpJson,
    client: &'a reqwest::Client,
    since: Option<String>,
    number: u32,
    cursor: Option<String>,
    cursors_seen: std::collections::HashSet<String>,
    pages: u32,
    finished: bool,
    /// The feed sends canonical records (see `PageRecords::Canonical`).
    canonical: bool,
}

/// A run that needs more pages than this is taken for a server that ignores paging.
const MAX_PAGES: u32 = 100_000;

impl<'a> Pager<'a> {
    pub fn new(
        spec: &'a HttpJson,
        client: &'a reqwest::Client,
        since: Option<String>,
        canonical: bool,
    ) -> Self {
        let number = match &spec.pagination {
            Pagination::Page { first_page, .. } => *first_page,
            _ => 1,
        };
        Self {
            spec,
            client,
            since,
            number,
            cursor: None,
            cursors_seen: Default::default(),
            pages: 0,
            finished: false,
            canonical,
        }
    }

    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Page>, FetchError> {
        if self.finished {
            return Ok(None);
        }
        let spec = self.spec;
        let mut params: Vec<(String, String)> = Vec::new();
        if let (Some(name), Some(since)) = (&spec.since_param, &self.since) {
            params.push((name.clone(), since.clone()));
        }
        match &spec.pagination {
            Pagination::Page {
                page_param,
                size_param,
                size,
                ..
            } => {
                params.push((page_param.clone(), self.number.to_string()));
                params.push((size_param.clone(), size.to_string()));
            }
            Pagination::Cursor { cursor_param, .. } => {
                if let Some(c) = &self.cursor {
                    params.push((cursor_param.clone(), c.clone()));
                }
            }
            Pagination::None => {}
        }
        let body = request(spec, self.client, &params).await?;
        // A page of thousands of records takes tens of milliseconds to parse: not on the
        // async threads, and in parallel with the previous page being written.
        let (canonical, records_path, url) = (
            self.canonical,
            spec.records_path.clone(),
            shown(&spec.url).to_owned(),
        );
        let next_field = match &spec.pagination {
            Pagination::Cursor { next_field, .. } => Some(next_field.clone()),
            _ => None,
        };
        let (records, next) = tokio::task::spawn_blocking(move || {
            read_page(body, &records_path, next_field.as_deref(), canonical, &url)
        })
        .await
        .map_err(|e| FetchError::fatal(format!("parsing a page failed inside duban: {e}")))??;
        match &spec.pagination {
            Pagination::None => self.finished = true,
            Pagination::Page { .. } => {
                // Only an empty page ends the run: a server that caps the page size below
                // the one asked for would otherwise look finished after its first page.
                self.finished = records.is_empty();
                self.number += 1;
                self.pages += 1;
                if self.pages > MAX_PAGES {
                    return Err(FetchError::fatal(format!(
                        "more than {MAX_PAGES} pages in one run: the server seems to ignore the page parameter"
                    )));
                }
            }
            Pagination::Cursor { .. } => match next {
                Some(next) if !self.cursors_seen.insert(next.clone()) => {
                    return Err(FetchError::fatal(format!(
                        "the cursor {next} came back a second time; stopping instead of looping"
                    )));
                }
                Some(next) => self.cursor = Some(next),
                None => self.finished = true,
            },
        }
        Ok(Some(records))
    }
}

async fn request(
    spec: &HttpJson,
    client: &reqwest::Client,
    params: &[(String, String)],
) -> Result<Vec<u8>, FetchError> {
    let builder = if spec.post {
        let body: Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        client.post(&spec.url).json(&body)
    } else {
        client.get(&spec.url).query(params)
    };
    let builder = match &spec.auth {
        Auth::None => builder,
        Auth::Bearer(token) => builder.bearer_auth(token.expose()),
        Auth::Basic { username, password } => builder.basic_auth(username, Some(password.expose())),
        Auth::Header { name, value } => builder.header(name.as_str(), value.expose()),
    };
    let mut response = builder.timeout(spec.timeout).send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out"
        } else {
            "failed"
        };
        FetchError::retry(format!(
            "GET {} {what}: {}",
            shown(&spec.url),
            root_cause(&e)
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        let message = format!("{} answered {status}", shown(&spec.url));
        return Err(if status.is_server_error() || status.as_u16() == 429 {
            FetchError::retry(message)
        } else {
            FetchError::fatal(message)
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        FetchError::retry(format!("reading {}: {}", shown(&spec.url), root_cause(&e)))
    })? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > spec.max_body_bytes {
            return Err(FetchError::fatal(format!(
                "{} sent more than max_body_bytes = {}; raise it or page the feed",
                shown(&spec.url),
                spec.max_body_bytes
            )));
        }
    }
    Ok(body)
}

/// The URL without its query string: a token passed as `?access_token=…` must not reach
/// logs, the run history or `/api/feeds`.
fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The records of a response at `records_path`, and the next cursor at `next_field` if
/// given. A canonical feed's records stay text (see `PageRecords::Canonical`); others become JSON
/// values for the mapping.
fn read_page(
    body: Vec<u8>,
    records_path: &str,
    next_field: Option<&str>,
    canonical: bool,
    url: &str,
) -> Result<(Page, Option<String>), FetchError> {
    let not_json =
        |e: &dyn std::fmt::Display| FetchError::fatal(format!("{url} did not send JSON: {e}"));
    let no_list = || {
        FetchError::fatal(format!(
            "no list of records at {:?} in the response (records_path)",
            if records_path.is_empty() {
                "the top level"
            } else {
                records_path
            }
        ))
    };
    let body = String::from_utf8(body).map_err(|e| not_json(&e))?;
    let top: &RawValue = serde_json::from_str(&body).map_err(|e| not_json(&e))?;
    // The top level's fields, read once for both paths: each read scans the whole body.
    let fields = (!records_path.is_empty() || next_field.is_some())
        .then(|| serde_json::from_str::<Fields>(top.get()).ok())
        .flatten();
    let raw_at = |path: &str| raw_at(top, fields.as_ref(), path);
    let next = match next_field.map(raw_at) {
        Some(Some(raw)) => match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::String(s)) if !s.is_empty() => Some(s),
            Ok(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
        _ => None,
    };
    let list = raw_at(records_path).ok_or_else(no_list)?;
    // A list that does not parse (a bad escape inside) is bad JSON, not a wrong path.
    let not_a_list = |e: serde_json::Error| {
        if list.get().starts_with('[') {
            not_json(&e)
        } else {
            no_list()
        }
    };
    let page = if canonical {
        let records: Vec<&RawValue> = serde_json::from_str(list.get()).map_err(not_a_list)?;
        // Each record's place in the body (the raw values are slices of it).
        let start = body.as_ptr() as usize;
        let records = records
            .iter()
            .map(|r| {
                let at = r.get().as_ptr() as usize - start;
                at..at + r.get().len()
            })
            .collect();
        Page {
            records: PageRecords::Canonical { body, records },
            refused: Vec::new(),
            note: None,
        }
    } else {
        let records: Vec<Value> = serde_json::from_str(list.get()).map_err(not_a_list)?;
        Page::values(records)
    };
    Ok((page, next))
}

/// An object's fields, each left as text.
type Fields<'a> = std::collections::HashMap<String, &'a RawValue>;

/// The value at a dotted path of objects in `top` (all of it for an empty path); `fields`
/// are `top`'s own, if it is an object.
fn raw_at<'a>(top: &'a RawValue, fields: Option<&Fields<'a>>, path: &str) -> Option<&'a RawValue> {
    let mut keys = path.split('.').filter(|p| !p.is_empty());
    let Some(first) = keys.next() else {
        return Some(top);
    };
    let start = fields?.get(first).copied()?;
    keys.try_fold(start, |v, key| {
        let object: Fields<'a> = serde_json::from_str(v.get()).ok()?;
        object.get(key).copied()
    })
}
