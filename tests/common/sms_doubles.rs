//! Stand-ins for the SMS providers on loopback (127.0.0.1, port 0): Aliyun's dysmsapi,
//! Tencent's sms.tencentcloudapi.com and a generic HTTP gateway. Each checks a request as
//! the provider does — Aliyun and Tencent rebuild the canonical request from the method,
//! path, query, received headers and body and recompute the signature with the secret
//! they hold (their own code here, not duban's signing) — and answers with the provider's
//! documented response bodies: success, throttling, a bad number, a refused signature, a
//! 5xx, or no answer at all. Every request is recorded so a test can check what was sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What the double answers a request whose signature (or token) it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Success,
    /// The provider's throttling answer.
    Throttled,
    /// The provider's answer to a malformed mobile number.
    BadNumber,
    /// HTTP 503 with `Retry-After: 7` and no provider body (a load balancer's page).
    Unavailable,
    /// Accepts the connection and never answers.
    Hang,
}

/// One request as the double received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Whether the signature (or bearer token) checked out.
    pub authenticated: bool,
    /// The business parameters: Aliyun's query, Tencent's JSON body's top-level fields
    /// (arrays as JSON text), the gateway's JSON body's.
    pub params: BTreeMap<String, String>,
    /// The provider id the double handed out for it, when it accepted it.
    pub provider_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Aliyun,
    Tencent,
    Gateway,
}

struct Inner {
    kind: Kind,
    /// The key id (Aliyun AccessKey ID, Tencent SecretId) the double knows.
    key_id: String,
    /// The secret it checks signatures with (the gateway's bearer token).
    secret: String,
    answer: Answer,
    requests: Vec<Recorded>,
}

/// A running double; clones share it.
#[derive(Clone)]
pub struct SmsDouble {
    inner: Arc<Mutex<Inner>>,
    /// `http://127.0.0.1:PORT`, to use as the sender's endpoint.
    pub url: String,
}

impl SmsDouble {
    /// Aliyun's dysmsapi, holding the AccessKey `key_id` / `secret`.
    pub async fn aliyun(key_id: &str, secret: &str) -> Self {
        Self::start(Kind::Aliyun, key_id, secret).await
    }

    /// Tencent's SMS API, holding the SecretId `key_id` and SecretKey `secret`.
    pub async fn tencent(key_id: &str, secret: &str) -> Self {
        Self::start(Kind::Tencent, key_id, secret).await
    }

    /// An HTTP gateway that wants `Authorization: Bearer <token>`.
    pub async fn gateway(token: &str) -> Self {
        Self::start(Kind::Gateway, "", token).await
    }

    async fn start(kind: Kind, key_id: &str, secret: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            kind,
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            answer: Answer::Success,
            requests: Vec::new(),
        }));
        let router = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        SmsDouble {
            inner,
            url: format!("http://{addr}"),
        }
    }

    /// What the next requests are answered with.
    pub fn answer(&self, answer: Answer) {
        self.inner.lock().unwrap().answer = answer;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }
}

type Shared = Arc<Mutex<Inner>>;

/// The provider's answer to a request it refuses (boxed: a response is large).
type Refusal = Box<Response>;

async fn handle(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (kind, key_id, secret, answer, sequence) = {
        let inner = inner.lock().unwrap();
        (
            inner.kind,
            inner.key_id.clone(),
            inner.secret.clone(),
            inner.answer,
            inner.requests.len() + 1,
        )
    };
    let verdict = match kind {
        Kind::Aliyun => aliyun_check(&method, &uri, &headers, &body, &key_id, &secret),
        Kind::Tencent => tencent_check(&headers, &body, &key_id, &secret),
        Kind::Gateway => gateway_check(&headers, &secret),
    };
    let params = match kind {
        Kind::Aliyun => uri
            .query()
            .map(|query| {
                query_pairs(query)
                    .into_iter()
                    .collect::<BTreeMap<String, String>>()
            })
            .unwrap_or_default(),
        Kind::Tencent | Kind::Gateway => json_params(&body),
    };
    let mut record = Recorded {
        method,
        uri,
        headers,
        body: body.to_vec(),
        authenticated: verdict.is_ok(),
        params,
        provider_id: None,
    };
    let response = match verdict {
        Err(refusal) => *refusal,
        Ok(()) => {
            if answer == Answer::Hang {
                inner.lock().unwrap().requests.push(record);
                tokio::time::sleep(Duration::from_secs(120)).await;
                return StatusCode::GATEWAY_TIMEOUT.into_response();
            }
            let (response, provider_id) = match kind {
                Kind::Aliyun => aliyun_answer(answer, sequence),
                Kind::Tencent => tencent_answer(answer, sequence, &record.params),
                Kind::Gateway => gateway_answer(answer, sequence),
            };
            record.provider_id = provider_id;
            response
        }
    };
    inner.lock().unwrap().requests.push(record);
    response
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn request_id(sequence: usize) -> String {
    format!("F655A8D5-B967-440B-8683-{sequence:012X}")
}

// ---- Aliyun -----------------------------------------------------------------------------

/// Strict RFC 3986 decoding (`+` stays `+`, as Aliyun's V3 canonicalisation has it).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rfc3986(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn aliyun_refusal(status: StatusCode, code: &str, message: &str) -> Refusal {
    Box::new(json_response(
        status,
        json!({
            "RequestId": request_id(0),
            "Message": message,
            "Recommend": format!("https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi"),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
        }),
    ))
}

/// Aliyun's check of an ACS3-HMAC-SHA256 request, from what arrived.
fn aliyun_check(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    key_id: &str,
    secret: &str,
) -> Result<(), Refusal> {
    let incomplete = || {
        aliyun_refusal(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let authorization = header("authorization").ok_or_else(incomplete)?;
    let fields = authorization
        .strip_prefix("ACS3-HMAC-SHA256 ")
        .ok_or_else(incomplete)?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for field in fields.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", value)) => credential = Some(value),
            Some(("SignedHeaders", value)) => signed_headers = Some(value),
            Some(("Signature", value)) => signature = Some(value),
            _ => return Err(incomplete()),
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete());
    };
    if credential != key_id {
        return Err(aliyun_refusal(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    }
    if header("x-acs-action") != Some("SendSms") || header("x-acs-version") != Some("2017-05-25") {
        return Err(aliyun_refusal(
            StatusCode::BAD_REQUEST,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ));
    }
    if header("x-acs-content-sha256") != Some(sha256_hex(body).as_str()) {
        return Err(aliyun_refusal(
            StatusCode::BAD_REQUEST,
            "InvalidParameter.ContentSHA256",
            "The x-acs-content-sha256 header does not match the body.",
        ));
    }
    // Every x-acs-* header, host and content-type that arrived must have been signed.
    let names: Vec<&str> = signed_headers.split(';').collect();
    for name in headers.keys() {
        let name = name.as_str();
        let must = name == "host" || name == "content-type" || name.starts_with("x-acs-");
        if must && !names.contains(&name) {
            return Err(incomplete());
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(name).ok_or_else(incomplete)?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let mut pairs: Vec<(String, String)> = query_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .map(|(name, value)| (rfc3986(&name), rfc3986(&value)))
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_request = format!(
        "{method}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{}",
        uri.path(),
        sha256_hex(body)
    );
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let expected = hex::encode(hmac(secret.as_bytes(), string_to_sign.as_bytes()));
    if expected != signature {
        return Err(aliyun_refusal(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            &format!(
                "Specified signature does not match our calculation. The string to sign is: {}",
                string_to_sign.replace('\n', "\\n")
            ),
        ));
    }
    Ok(())
}

fn aliyun_answer(answer: Answer, sequence: usize) -> (Response, Option<String>) {
    let body = |code: &str, message: &str| {
        json_response(
            StatusCode::OK,
            json!({"Message": message, "RequestId": request_id(sequence), "Code": code}),
        )
    };
    match answer {
        Answer::Success => {
            let biz_id = format!("9006197469364984{sequence:02}^0");
            let response = json_response(
                StatusCode::OK,
                json!({
                    "Message": "OK",
                    "RequestId": request_id(sequence),
                    "Code": "OK",
                    "BizId": biz_id,
                }),
            );
            (response, Some(biz_id))
        }
        Answer::Throttled => (
            body("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
            None,
        ),
        Answer::BadNumber => (body("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"), None),
        Answer::Unavailable | Answer::Hang => (unavailable(), None),
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "7"), ("content-type", "text/html")],
        "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
    )
        .into_response()
}

// ---- Tencent ----------------------------------------------------------------------------

fn tencent_error(code: &str, message: &str) -> Refusal {
    // API 3.0 answers HTTP 200 with `Response.Error` for a refused request.
    Box::new(json_response(
        StatusCode::OK,
        json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6"}}),
    ))
}

/// Tencent's check of a TC3-HMAC-SHA256 request, from what arrived.
fn tencent_check(
    headers: &HeaderMap,
    body: &[u8],
    key_id: &str,
    secret: &str,
) -> Result<(), Refusal> {
    let invalid = || {
        tencent_error(
            "AuthFailure.InvalidAuthorization",
            "Authorization header is invalid.",
        )
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-tc-action") != Some("SendSms") || header("x-tc-version") != Some("2021-01-11") {
        return Err(tencent_error("InvalidAction", "The action is not found."));
    }
    if header("x-tc-region").is_none_or(str::is_empty) {
        return Err(tencent_error("MissingParameter", "The region is missing."));
    }
    let timestamp: i64 = header("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(invalid)?;
    let authorization = header("authorization").ok_or_else(invalid)?;
    let fields = authorization
        .strip_prefix("TC3-HMAC-SHA256 ")
        .ok_or_else(invalid)?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for field in fields.split(", ") {
        match field.split_once('=') {
            Some(("Credential", value)) => credential = Some(value),
            Some(("SignedHeaders", value)) => signed_headers = Some(value),
            Some(("Signature", value)) => signature = Some(value),
            _ => return Err(invalid()),
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(invalid());
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [id, date, service, "tc3_request"] = parts[..] else {
        return Err(invalid());
    };
    if id != key_id {
        return Err(tencent_error(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    }
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return Err(tencent_error(
            "AuthFailure.SignatureExpire",
            "Signature expired, the timestamp is more than five minutes off.",
        ));
    }
    let utc_date = chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    if date != utc_date || service != "sms" {
        return Err(invalid());
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err(invalid());
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(name).ok_or_else(invalid)?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim().to_ascii_lowercase()));
    }
    let canonical_request = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        sha256_hex(body)
    );
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = hmac(
        &hmac(
            &hmac(format!("TC3{secret}").as_bytes(), date.as_bytes()),
            service.as_bytes(),
        ),
        b"tc3_request",
    );
    if hex::encode(hmac(&key, string_to_sign.as_bytes())) != signature {
        return Err(tencent_error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    Ok(())
}

fn json_params(body: &[u8]) -> BTreeMap<String, String> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return BTreeMap::new();
    };
    fields
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            (name, text)
        })
        .collect()
}

fn tencent_answer(
    answer: Answer,
    sequence: usize,
    params: &BTreeMap<String, String>,
) -> (Response, Option<String>) {
    let number = params
        .get("PhoneNumberSet")
        .and_then(|set| serde_json::from_str::<Vec<String>>(set).ok())
        .and_then(|set| set.into_iter().next())
        .unwrap_or_default();
    let context = params.get("SessionContext").cloned().unwrap_or_default();
    let per_number = |serial: &str, fee: u32, code: &str, message: &str| {
        json_response(
            StatusCode::OK,
            json!({"Response": {
                "SendStatusSet": [{
                    "SerialNo": serial,
                    "PhoneNumber": number,
                    "Fee": fee,
                    "SessionContext": context,
                    "Code": code,
                    "Message": message,
                    "IsoCode": "CN",
                }],
                "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
            }}),
        )
    };
    match answer {
        Answer::Success => {
            let serial = format!("5000:10457106691570536578494996{sequence:02}");
            (per_number(&serial, 1, "Ok", "send success"), Some(serial))
        }
        Answer::Throttled => (
            per_number(
                "",
                0,
                "LimitExceeded.PhoneNumberThirtySecondLimit",
                "the number of sms messages sent from a single mobile number within 30 seconds exceeds the upper limit",
            ),
            None,
        ),
        Answer::BadNumber => (
            per_number(
                "",
                0,
                "InvalidParameterValue.IncorrectPhoneNumber",
                "incorrect number format",
            ),
            None,
        ),
        Answer::Unavailable | Answer::Hang => (unavailable(), None),
    }
}

// ---- Gateway ----------------------------------------------------------------------------

fn gateway_check(headers: &HeaderMap, token: &str) -> Result<(), Refusal> {
    let expected = format!("Bearer {token}");
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(given) if given == expected => Ok(()),
        _ => Err(Box::new(json_response(
            StatusCode::UNAUTHORIZED,
            json!({"code": 40100, "msg": "invalid token"}),
        ))),
    }
}

fn gateway_answer(answer: Answer, sequence: usize) -> (Response, Option<String>) {
    match answer {
        Answer::Success => {
            let id = format!("gw-{sequence}");
            (
                json_response(StatusCode::OK, json!({"code": 0, "data": {"msgid": id}})),
                Some(id),
            )
        }
        Answer::Throttled => (
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "3")],
                r#"{"code":42900,"msg":"too many requests"}"#,
            )
                .into_response(),
            None,
        ),
        Answer::BadNumber => (
            json_response(
                StatusCode::BAD_REQUEST,
                json!({"code": 40001, "msg": "invalid mobile"}),
            ),
            None,
        ),
        Answer::Unavailable | Answer::Hang => (unavailable(), None),
    }
}
