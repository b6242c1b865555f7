//! One page of a feed fetched for a look (`duban check-config --feed`): by the code the poller
//! fetches with, but from the start (no `since`), once (no retries), and leaving everything as
//! it was: nothing is stored, and a folder's file stays where it is.

use super::spec::{FeedSpec, Source};
use super::{FetchError, Records, folder, http_json, sql};

/// The first page of a feed: where it came from, and its records as the source sent them.
pub struct Sample {
    /// The URL (without its query), the file, or the query, for the operator.
    pub origin: String,
    pub records: Records,
}

/// Fetches the first page of `spec`.
pub async fn first_page(spec: &FeedSpec) -> Result<Sample, FetchError> {
    let (origin, page) = match &spec.source {
        Source::HttpJson(http) => {
            let client = http_json::client()
                .map_err(|e| FetchError::fatal(format!("cannot set up the HTTP client: {e}")))?;
            let mut pager = http_json::Pager::new(http, &client, None, spec.mapping.is_identity());
            (
                http_json::shown(&http.url).to_owned(),
                pager.next_page().await?,
            )
        }
        Source::Folder(dir) => match folder::Pager::new(dir, &spec.mapping)?.peek()? {
            Some((file, page)) => (file.display().to_string(), Some(page)),
            None => (format!("{} (no file waiting)", dir.path.display()), None),
        },
        Source::Sql(query) => ("the query".to_owned(), Some(sql::fetch(query, None).await?)),
    };
    Ok(Sample {
        origin,
        records: page.map(super::Page::into_values).unwrap_or_default(),
    })
}
