//! The `http_json` source: GET or POST a JSON endpoint, with bearer, basic or header auth,
//! page or cursor pagination, an incremental `since` parameter, a timeout and a ceiling on
//! the body size. Each page's records go to the caller before the next page is asked for.
//! A page that is not valid JSON or not UTF-8 as a whole is read record by record where its
//! brackets allow (`salvage`): its bad records are refused with their text, the run goes
//! on to the next page, and the page's note says it was salvaged.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::spec::{Auth, HttpJson, Pagination};
use super::{FetchError, Page, PageRecords, salvage};
use crate::store::feeds::Quarantined;

/// Walks the pages of one run, one request a page.
pub struct Pager<'a> {
    spec: &'a HttpJson,
    client: &'a reqwest::Client,
    since: Option<String>,
    number: u32,
    cursor: Option<String>,
    cursors_seen: std::collections::HashSet<String>,
    /// Pages read so far in the run.
    pages: u32,
    finished: bool,
    /// The feed sends canonical records (see `PageRecords::Canonical`).
    canonical: bool,
}

/// The HTTP client feeds are fetched with (one for all: it keeps connections open).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("duban/", env!("CARGO_PKG_VERSION")))
        .build()
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
        let (mut records, next) = tokio::task::spawn_blocking(move || {
            read_page(body, &records_path, next_field.as_deref(), canonical, &url)
        })
        .await
        .map_err(|e| FetchError::fatal(format!("parsing a page failed inside duban: {e}")))??;
        self.pages += 1;
        // Which page a note is about, in the order the run read them.
        records.note = records
            .note
            .map(|note| format!("page {}: {note}", self.pages));
        match &spec.pagination {
            Pagination::None => self.finished = true,
            Pagination::Page { .. } => {
                // Only an empty page ends the run: a server that caps the page size below
                // the one asked for would otherwise look finished after its first page.
                self.finished = records.is_empty();
                self.number += 1;
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
pub(super) fn shown(url: &str) -> &str {
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
/// given. A canonical feed's records stay text (see `PageRecords::Canonical`); others become
/// JSON values for the mapping. A byte-order mark before the JSON is passed over. A page
/// that is not valid JSON as a whole, or not UTF-8, is read record by record if its list of
/// records can be found (`salvage`): the records that are sound are read, the others are
/// refused with their text, and the page's note says so.
fn read_page(
    mut body: Vec<u8>,
    records_path: &str,
    next_field: Option<&str>,
    canonical: bool,
    url: &str,
) -> Result<(Page, Option<String>), FetchError> {
    if body.starts_with(b"\xEF\xBB\xBF") {
        body.drain(..3);
    }
    let (text, not_utf8, first_not_utf8) = match String::from_utf8(body) {
        Ok(text) => (text, Vec::new(), None),
        Err(e) => {
            let first = e.utf8_error().valid_up_to();
            let (text, replaced) = lossy(e.as_bytes());
            (text, replaced, Some(first))
        }
    };
    let why = match first_not_utf8 {
        None => match read_whole(&text, records_path, next_field, canonical) {
            Ok((records, next)) => return Ok((page(text, records, Vec::new(), None), next)),
            Err(Unread::NoList) => return Err(no_list(records_path)),
            Err(Unread::NotJson(e)) => e.to_string(),
        },
        Some(at) => format!("bytes that are not UTF-8 text, the first at byte {at}"),
    };
    let salvaged = Salvage {
        text: &text,
        not_utf8: &not_utf8,
        canonical,
    };
    let (records, refused, next, trailing) = salvaged
        .read(records_path, next_field)
        .ok_or_else(|| FetchError::fatal(format!("{url} did not send JSON: {why}")))?;
    let read = match &records {
        Framed::Ranges(ranges) => ranges.len(),
        Framed::Values(values) => values.len(),
    };
    let note = format!(
        "{url} sent a page that is not valid JSON as a whole ({why}); it was read record by \
         record: {read} records read, {} refused{}",
        refused.len(),
        if trailing {
            "; the text after the JSON was left out"
        } else {
            ""
        }
    );
    Ok((page(text, records, refused, Some(note)), next))
}

/// A page that could not be read whole: its text (not UTF-8 parts replaced), where the
/// replacements are, and whether its records are kept as text.
struct Salvage<'a> {
    text: &'a str,
    not_utf8: &'a [usize],
    canonical: bool,
}

impl Salvage<'_> {
    /// The records that are sound, those refused, the next cursor, and whether text follows
    /// the JSON; `None` if the list of records cannot be found and cut up (`salvage`).
    fn read(
        &self,
        records_path: &str,
        next_field: Option<&str>,
    ) -> Option<(Framed, Vec<Quarantined>, Option<String>, bool)> {
        let text = self.text;
        let found =
            salvage::value_at(text, records_path).and_then(|list| salvage::elements(text, list))?;
        let next = next_field
            .and_then(|field| salvage::value_at(text, field))
            .and_then(|at| cursor(&text[at]));
        let trailing =
            salvage::value_at(text, "").is_some_and(|top| !text[top.end..].trim().is_empty());
        let (mut ranges, mut values, mut refused) = (Vec::new(), Vec::new(), Vec::new());
        for range in found {
            let raw = &text[range.clone()];
            let reason = if self.replaced_within(&range) {
                "holds bytes that are not UTF-8 text (each kept here as \u{fffd}); the feed \
                 must send UTF-8"
                    .to_owned()
            } else {
                match serde_json::from_str::<Value>(raw) {
                    Ok(_) if self.canonical => {
                        ranges.push(range);
                        continue;
                    }
                    Ok(value) => {
                        values.push(value);
                        continue;
                    }
                    Err(e) => crate::item::not_json(&e),
                }
            };
            refused.push(Quarantined {
                item_id: None,
                field: String::new(),
                reason,
                raw: raw.to_owned(),
            });
        }
        let records = if self.canonical {
            Framed::Ranges(ranges)
        } else {
            Framed::Values(values)
        };
        Some((records, refused, next, trailing))
    }

    /// Whether a byte sequence that is not UTF-8 was replaced within `range`.
    fn replaced_within(&self, range: &std::ops::Range<usize>) -> bool {
        let after = self.not_utf8.partition_point(|&at| at < range.start);
        self.not_utf8.get(after).is_some_and(|&at| at < range.end)
    }
}

/// A page's records as read: where each is in the page's text, or parsed.
enum Framed {
    Ranges(Vec<std::ops::Range<usize>>),
    Values(Vec<Value>),
}

fn page(body: String, records: Framed, refused: Vec<Quarantined>, note: Option<String>) -> Page {
    let records = match records {
        Framed::Ranges(records) => PageRecords::Canonical { body, records },
        Framed::Values(values) => PageRecords::Values(values),
    };
    Page {
        records,
        refused,
        note,
    }
}

/// Why a page could not be read whole.
enum Unread {
    /// No list of records where `records_path` says: the config's mistake, or the server's
    /// answer is not a page of records at all; nothing to salvage.
    NoList,
    NotJson(serde_json::Error),
}

fn no_list(records_path: &str) -> FetchError {
    FetchError::fatal(format!(
        "no list of records at {:?} in the response (records_path)",
        if records_path.is_empty() {
            "the top level"
        } else {
            records_path
        }
    ))
}

/// The text as UTF-8, each byte sequence that is not UTF-8 replaced by U+FFFD, and where
/// each replacement is.
fn lossy(bytes: &[u8]) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(bytes.len());
    let mut replaced = Vec::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            replaced.push(text.len());
            text.push('\u{fffd}');
        }
    }
    (text, replaced)
}

/// A cursor as the next page is asked for with it: a non-empty string, or a number.
fn cursor(raw: &str) -> Option<String> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::String(s)) if !s.is_empty() => Some(s),
        Ok(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The records and the next cursor of a page that is valid JSON.
fn read_whole(
    body: &str,
    records_path: &str,
    next_field: Option<&str>,
    canonical: bool,
) -> Result<(Framed, Option<String>), Unread> {
    let top: &RawValue = serde_json::from_str(body).map_err(Unread::NotJson)?;
    // The top level's fields, read once for both paths: each read scans the whole body.
    let fields = (!records_path.is_empty() || next_field.is_some())
        .then(|| serde_json::from_str::<Fields>(top.get()).ok())
        .flatten();
    let raw_at = |path: &str| raw_at(top, fields.as_ref(), path);
    let next = next_field
        .and_then(raw_at)
        .and_then(|raw| cursor(raw.get()));
    let list = raw_at(records_path).ok_or(Unread::NoList)?;
    // A list that does not parse (a bad escape inside) is bad JSON, not a wrong path.
    let not_a_list = |e: serde_json::Error| {
        if list.get().starts_with('[') {
            Unread::NotJson(e)
        } else {
            Unread::NoList
        }
    };
    let records = if canonical {
        let records: Vec<&RawValue> = serde_json::from_str(list.get()).map_err(not_a_list)?;
        // Each record's place in the body (the raw values are slices of it).
        let start = body.as_ptr() as usize;
        Framed::Ranges(
            records
                .iter()
                .map(|r| {
                    let at = r.get().as_ptr() as usize - start;
                    at..at + r.get().len()
                })
                .collect(),
        )
    } else {
        Framed::Values(serde_json::from_str(list.get()).map_err(not_a_list)?)
    };
    Ok((records, next))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values(page: &Page) -> Vec<Value> {
        match &page.records {
            PageRecords::Values(values) => values.clone(),
            PageRecords::Canonical { body, records } => records
                .iter()
                .map(|r| serde_json::from_str(&body[r.clone()]).unwrap())
                .collect(),
        }
    }

    #[test]
    fn a_page_with_a_bad_record_keeps_the_others_and_its_cursor() {
        let body = br#"{"data": {"rows": [{"id": 1}, {"id": "\ud800"}, {"id": 3}]}, "next": 7}"#;
        // (A canonical feed's page reads whole: its records stay text, and the half pair is
        // refused with the record, by `item::parse_record`.)
        let (page, next) = read_page(body.to_vec(), "data.rows", Some("next"), false, "u").unwrap();
        assert_eq!(next.as_deref(), Some("7"));
        assert_eq!(
            values(&page),
            [serde_json::json!({"id": 1}), serde_json::json!({"id": 3})]
        );
        let refused = &page.refused[0];
        assert_eq!(refused.raw, r#"{"id": "\ud800"}"#);
        assert!(
            refused.reason.contains("lone surrogate"),
            "{}",
            refused.reason
        );
        let note = page.note.unwrap();
        assert!(
            note.starts_with("u sent a page that is not valid JSON as a whole (")
                && note.ends_with("2 records read, 1 refused"),
            "{note}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_no_error_and_a_cut_off_page_is_not_salvaged() {
        let (page, _) =
            read_page(b"\xEF\xBB\xBF[{\"id\": 1}]".to_vec(), "", None, false, "u").unwrap();
        assert_eq!(values(&page), [serde_json::json!({"id": 1})]);
        assert!(page.note.is_none() && page.refused.is_empty());
        let err = read_page(b"[{\"id\": 1}, {\"id\": 2".to_vec(), "", None, false, "u")
            .err()
            .unwrap();
        assert!(err.message.starts_with("u did not send JSON: "), "{err}");
        let err = read_page(b"{\"list\": []}".to_vec(), "items", None, false, "u")
            .err()
            .unwrap();
        assert!(
            err.message.starts_with("no list of records at \"items\""),
            "{err}"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_cost_only_their_record() {
        let body = b"[{\"id\": 1}, {\"id\": \"\xB0\xEC\"}, \xFF {\"id\": 3}, {\"id\": 4}]".to_vec();
        let (page, _) = read_page(body, "", None, true, "u").unwrap();
        assert_eq!(
            values(&page),
            [serde_json::json!({"id": 1}), serde_json::json!({"id": 4})]
        );
        let raw: Vec<&str> = page.refused.iter().map(|q| q.raw.as_str()).collect();
        assert_eq!(
            raw,
            ["{\"id\": \"\u{fffd}\u{fffd}\"}", "\u{fffd} {\"id\": 3}"]
        );
        assert!(
            page.note
                .unwrap()
                .contains("(bytes that are not UTF-8 text, the first at byte 20)")
        );
    }
}
