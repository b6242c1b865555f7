//! Who may see what: a viewer token opens the pages, the API and every screen; an office
//! token opens the same and also acts (imports contacts, sees numbers unmasked); a screen's
//! own token opens that screen only. Tokens come in the query (`?token=`, as a wall screen's
//! URL carries it) or as `Authorization: Bearer`. With no `[access]` configured everything
//! is open, which start-up warns about. Tokens are compared in constant time, each request's
//! against every token that could open what it asks for, so that neither how much of a token
//! was right nor which one matched shows in the time taken.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use subtle::{Choice, ConstantTimeEq};

use crate::config::secret::Secret;
use crate::config::{Access, Screen};
use crate::ingest::Shared;

/// Whether `token` opens `screen` (or, without a screen, the pages and the API).
pub fn allows(access: &Access, token: Option<&str>, screen: Option<&Screen>) -> bool {
    opens(access, token, screen.into_iter())
}

/// Whether `token` is a viewer token or a token of one of `screens`; every one of them is
/// compared, whichever matches.
fn opens<'a>(
    access: &Access,
    token: Option<&str>,
    screens: impl Iterator<Item = &'a Screen>,
) -> bool {
    if !access.enforced {
        return true;
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return false;
    };
    let secrets = access
        .viewer_tokens
        .iter()
        .chain(&access.office_tokens)
        .chain(screens.flat_map(|s| &s.tokens));
    equals_any(token, secrets.map(Secret::expose))
}

/// Whether `token` is an office token. With no `[access]` everything is open, acting too
/// (as start-up warns); with `[access]` and no office tokens, no token acts.
pub fn is_office(access: &Access, token: Option<&str>) -> bool {
    if !access.enforced {
        return true;
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return false;
    };
    equals_any(token, access.office_tokens.iter().map(Secret::expose))
}

/// Who is asking, as `api_guard` found it from the token: handed to the handlers (the token
/// itself is taken out of the query before them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A viewer token: may read, and sees contacts masked.
    Viewer,
    /// An office token (or anyone, with no `[access]`): may read and act, and sees contacts
    /// unmasked.
    Office,
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
    opens(access, token, screens.iter())
}

/// Whether `token` equals one of `secrets`. Each comparison takes the same time whatever
/// the bytes (`subtle`, which the optimiser cannot cut short), and all of them are made and
/// folded without branching, so the time does not tell a right prefix or which secret
/// matched. (A comparison with a secret of another length ends at once: lengths are not
/// secret, the generated tokens all have one.)
fn equals_any<'a>(token: &str, secrets: impl Iterator<Item = &'a str>) -> bool {
    let token = token.as_bytes();
    secrets
        .fold(Choice::from(0), |found, secret| {
            found | secret.as_bytes().ct_eq(token)
        })
        .into()
}

/// Whether `given` is `secret`, compared in constant time.
pub fn equals(given: &str, secret: &str) -> bool {
    equals_any(given, std::iter::once(secret))
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
    let caller = if is_office(&shared.config.access, token.as_deref()) {
        Caller::Office
    } else {
        Caller::Viewer
    };
    request.extensions_mut().insert(caller);
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
        let one = |a: &str, b: &str| equals_any(a, [b].into_iter());
        assert!(one("abc", "abc"));
        assert!(!one("abc", "abd") && !one("abc", "ab") && !one("ab", "abc") && !one("a", ""));
        assert!(
            !one("市", "巿"),
            "multi-byte tokens are compared by their bytes"
        );
        assert!(!equals_any("abc", std::iter::empty()));
    }

    #[test]
    fn every_secret_is_compared_whichever_matches() {
        let secrets = ["first-token", "second-token", "third-token"];
        for (token, expected) in [
            ("first-token", true),
            ("third-token", true),
            ("first-tokeX", false),
            ("nothing", false),
        ] {
            let mut compared = 0;
            let found = equals_any(token, secrets.iter().copied().inspect(|_| compared += 1));
            assert_eq!((found, compared), (expected, 3), "{token}");
        }
    }

    #[test]
    fn a_screen_token_opens_its_screen_and_the_charts_only() {
        let secret = |v: &str| {
            let file = crate::config::toml_file::TomlFile::from_text(
                std::path::Path::new("duban.toml"),
                String::new(),
            )
            .with_env_fallback([("DUBAN_T".to_owned(), v.to_owned())]);
            Secret::from_env(&file, &toml::Spanned::new(0..0, "DUBAN_T".to_owned())).unwrap()
        };
        let access = Access {
            viewer_tokens: vec![secret("viewer")],
            enforced: true,
            ..Access::default()
        };
        let screen = |name: &str, token: &str| Screen {
            name: name.into(),
            title: String::new(),
            pages: vec![],
            rotate_seconds: 0,
            aspect: None,
            tokens: vec![secret(token)],
        };
        let screens = [screen("a", "token-a"), screen("b", "token-b")];
        assert!(allows(&access, Some("viewer"), None));
        assert!(allows(&access, Some("viewer"), Some(&screens[1])));
        assert!(!allows(&access, Some("token-a"), None));
        assert!(allows(&access, Some("token-a"), Some(&screens[0])));
        assert!(!allows(&access, Some("token-a"), Some(&screens[1])));
        assert!(allows_some_screen(&access, &screens, Some("token-b")));
        assert!(!allows_some_screen(&access, &screens, Some("token-c")));
        assert!(!allows(&access, None, None) && !allows(&access, Some(""), None));
        assert!(allows(&Access::default(), None, None), "no [access]: open");
    }

    #[test]
    fn an_office_token_opens_what_a_viewer_token_opens_and_acts() {
        let secret = |v: &str| {
            let file = crate::config::toml_file::TomlFile::from_text(
                std::path::Path::new("duban.toml"),
                String::new(),
            )
            .with_env_fallback([("DUBAN_T".to_owned(), v.to_owned())]);
            Secret::from_env(&file, &toml::Spanned::new(0..0, "DUBAN_T".to_owned())).unwrap()
        };
        let access = Access {
            viewer_tokens: vec![secret("viewer")],
            office_tokens: vec![secret("office-1"), secret("office-2")],
            enforced: true,
            ..Access::default()
        };
        let screen = Screen {
            name: "hall".into(),
            title: String::new(),
            pages: vec![],
            rotate_seconds: 0,
            aspect: None,
            tokens: vec![secret("screen")],
        };
        for office in ["office-1", "office-2"] {
            assert!(is_office(&access, Some(office)));
            assert!(allows(&access, Some(office), None));
            assert!(allows(&access, Some(office), Some(&screen)));
        }
        for other in [
            Some("viewer"),
            Some("screen"),
            Some("office-"),
            Some(""),
            None,
        ] {
            assert!(!is_office(&access, other), "{other:?}");
        }
        let no_office = Access {
            office_tokens: vec![],
            ..access
        };
        assert!(!is_office(&no_office, Some("office-1")));
        assert!(!allows(&no_office, Some("office-1"), None));
        assert!(is_office(&Access::default(), None), "no [access]: open");
    }
}
