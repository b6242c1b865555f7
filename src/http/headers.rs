//! Headers every response carries for the browser's sake. Everywhere:
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` (tokens travel in the
//! pages' URLs and must not leave as a referrer). On HTML pages, a Content-Security-Policy:
//! scripts, styles and images from duban itself only (the pages have no inline script or
//! style: an injected one would not run), requests and the websocket to duban itself, and no
//! framing, unless `[access] frame_ancestors` names the portals that may embed the pages (then
//! `X-Frame-Options: DENY`, which cannot name origins, is left off). On JSON, which is data
//! behind a token, `Cache-Control: no-store`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Access;
use crate::config::screens::is_host;

/// What the pages' policy says about framing, from the config.
pub struct Policy {
    /// `frame-ancestors` sources: `'none'`, or the configured origins.
    frame_ancestors: String,
    /// Whether `X-Frame-Options: DENY` goes with it (when no portal may frame the pages).
    deny_frames: bool,
}

impl Policy {
    pub fn new(access: &Access) -> Self {
        let deny_frames = access.frame_ancestors.is_empty();
        Self {
            frame_ancestors: if deny_frames {
                "'none'".to_owned()
            } else {
                access.frame_ancestors.join(" ")
            },
            deny_frames,
        }
    }

    /// The policy of a page asked for with `host` as its Host. Browsers from before CSP 3
    /// (Safari before 16) do not count `ws:` to the page's own host as `'self'`, so the
    /// websocket's address is named too when the Host is a plain host and port.
    fn content_security_policy(&self, host: Option<&str>) -> Option<HeaderValue> {
        let socket = host
            .filter(|h| is_host(h))
            .map(|h| format!(" ws://{h} wss://{h}"))
            .unwrap_or_default();
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'{socket}; base-uri 'none'; form-action 'self'; \
             frame-ancestors {}",
            self.frame_ancestors
        );
        HeaderValue::from_str(&policy).ok()
    }
}

/// The middleware: adds the headers to whatever the routes answered.
pub async fn secure(State(policy): State<Arc<Policy>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("text/html") {
        if let Some(csp) = policy.content_security_policy(host.as_deref()) {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        if policy.deny_frames {
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
    } else if content_type.starts_with("application/json") {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(frame_ancestors: &[&str]) -> Policy {
        Policy::new(&Access {
            frame_ancestors: frame_ancestors.iter().map(|s| (*s).to_owned()).collect(),
            ..Access::default()
        })
    }

    fn csp(policy: &Policy, host: Option<&str>) -> String {
        let value = policy.content_security_policy(host).unwrap();
        value.to_str().unwrap().to_owned()
    }

    #[test]
    fn the_websocket_is_named_only_for_a_plain_host() {
        let p = policy(&[]);
        assert!(
            csp(&p, Some("screen.gov.cn:8080"))
                .contains("connect-src 'self' ws://screen.gov.cn:8080 wss://screen.gov.cn:8080;")
        );
        assert!(csp(&p, Some("[::1]:8080")).contains("ws://[::1]:8080 "));
        // A Host that would add a source or a directive is left out, not written.
        for host in [None, Some("a.cn; script-src *"), Some("a.cn *"), Some("")] {
            assert!(csp(&p, host).contains("connect-src 'self'; "), "{host:?}");
        }
        assert!(csp(&p, None).ends_with("frame-ancestors 'none'"));
        assert!(p.deny_frames);
    }

    #[test]
    fn configured_portals_may_frame_the_pages() {
        let p = policy(&["https://portal.example.gov.cn", "http://10.0.0.5:8000"]);
        assert!(
            csp(&p, None)
                .ends_with("frame-ancestors https://portal.example.gov.cn http://10.0.0.5:8000")
        );
        assert!(!p.deny_frames);
    }
}
