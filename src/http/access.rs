//! Who may see what: a viewer token opens the pages, the API and every screen; a screen's
//! own token opens that screen only. Tokens come in the query (`?token=`, as a wall screen's
//! URL carries it) or as `Authorization: Bearer`. With no `[access]` configured everything
//! is open, which start-up warns about. Tokens are compared in constant time.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::config::secret::Secret;
use crate::config::{Access, Screen};
use crate::ingest::Shared;

/// Whether `token` opens `screen` (or, without a screen, the pages and the API).
pub fn allows(access: &Access, token: Option<&str>, screen: Option<&Screen>) -> bool {
    if !access.enforced {
        return true;
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return false;
    };
    let matches = |secrets: &[Secret]| secrets.iter().any(|s| same(s.expose(), token));
    matches(&access.viewer_tokens) || screen.is_some_and(|s| matches(&s.tokens))
}

/// Why a request for a screen (or for the pages, with `name` = `None`) is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such screen, told only to a viewer token (which may see them all).
    UnknownScreen,
    Unauthorized,
}

/// The screen `name` names, if `token` opens it (or the pages, without a name).
pub fn admit<'a>(
    access: &Access,
    screens: &'a [Screen],
    name: Option<&str>,
    token: Option<&str>,
) -> Result<Option<&'a Screen>, Refusal> {
    let screen = match name {
        Some(name) => match screens.iter().find(|s| s.name == name) {
            Some(s) => Some(s),
            None if allows(access, token, None) => return Err(Refusal::UnknownScreen),
            None => return Err(Refusal::Unauthorized),
        },
        None => None,
    };
    if allows(access, token, screen) {
        Ok(screen)
    } else {
        Err(Refusal::Unauthorized)
    }
}

/// Whether `token` opens any screen or the pages: what the screens share (their charts).
pub fn allows_some_screen(access: &Access, screens: &[Screen], token: Option<&str>) -> bool {
    allows(access, token, None) || screens.iter().any(|s| allows(access, token, Some(s)))
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token of a request: `?token=` or `Authorization: Bearer`.
pub fn token_of(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    query_token(uri).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme's name is case-insensitive (RFC 7235).
            .and_then(|v| {
                v.get(..7)
                    .filter(|s| s.eq_ignore_ascii_case("bearer "))
                    .map(|_| v[7..].trim().to_owned())
            })
    })
}

fn query_token(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// A query-string key, percent-decoded.
fn decoded_key(pair: &str) -> String {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    form_urlencoded::parse(key.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Guards `/api/*`: a missing or wrong viewer token is a JSON 401; a good one is taken out
/// of the query before the handler sees it.
pub async fn api_guard(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = token_of(request.uri(), request.headers());
    if !allows(&shared.config.access, token.as_deref(), None) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(serde_json::json!({
                "error": "a viewer token is needed: add ?token=… or the header Authorization: Bearer …"
            })),
        )
            .into_response();
    }
    if let Some(query) = request.uri().query() {
        let rest: Vec<&str> = query
            .split('&')
            // Judged by the decoded key, as `token_of` reads it (`%74oken=` is `token=`).
            .filter(|p| decoded_key(p) != "token")
            .collect();
        let path = request.uri().path();
        let rebuilt = if rest.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", rest.join("&"))
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_from_the_query_or_the_header() {
        let uri: Uri = "/api/items?grade=red&token=a%2Bb%3D".parse().unwrap();
        assert_eq!(token_of(&uri, &HeaderMap::new()).as_deref(), Some("a+b="));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer xyz".parse().unwrap());
        let uri: Uri = "/api/items".parse().unwrap();
        assert_eq!(token_of(&uri, &headers).as_deref(), Some("xyz"));
        assert_eq!(decoded_key("%74oken=x"), "token");
        let uri: Uri = "/x?token=%E5%B8%82%zz".parse().unwrap();
        assert_eq!(token_of(&uri, &HeaderMap::new()).as_deref(), Some("市%zz"));
    }

    #[test]
    fn comparison_needs_the_whole_token() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab") && !same("", "a"));
    }
}
