//! Alibaba Cloud SMS (阿里云短信, dysmsapi, API 2017-05-25): `SendSms` over HTTPS POST,
//! signed with signature V3 (ACS3-HMAC-SHA256), and the `SmsReport` delivery reports
//! Aliyun pushes back. The message's outbox id travels as `OutId`, so a report (and
//! Aliyun's console) names duban's message; the answer's `BizId` is the provider id.
//!
//! The signing (`sign_acs3`) is a pure function of the request, the keys, the time and the
//! nonce, pinned against the worked example in Aliyun's V3 signature document. The answer's
//! error codes are read as Aliyun's SMS error-code list ("API错误码", help.aliyun.com
//! document 101346) and its gateway's common codes describe them (`classify`).

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;

use super::gateway::{exchange, http_status_is_retryable, retry_after, transport_failure, trimmed};
use super::sign::{canonical_query, hmac_sha256_hex, percent_encode, sha256_hex};
use super::{Outcome, Receipt, ReceiptHook, Retry, SendFuture, Sender};
use crate::warnings::message::{Channel, Outgoing};

/// Aliyun's SMS endpoint (the one for the Chinese mainland; it serves every region).
pub const ENDPOINT: &str = "https://dysmsapi.aliyuncs.com";
const ACTION: &str = "SendSms";
const VERSION: &str = "2017-05-25";
const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// How an Aliyun sender is set up (the config is wired to this by the caller).
/// Its `Debug` leaves the secret out, so a logged config does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// `ENDPOINT`, or a stand-in (tests point it at a loopback double over plain http).
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The approved sign (签名), e.g. `某某市住建局`.
    pub sign_name: String,
    /// The approved template (模板) code, e.g. `SMS_154950909`; its variables are the
    /// message's `params`.
    pub template_code: String,
    /// How long one request may take, answer included.
    pub timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("sign_name", &self.sign_name)
            .field("template_code", &self.template_code)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct AliyunSms {
    name: String,
    settings: Settings,
    client: reqwest::Client,
    reports: SmsReport,
}

impl AliyunSms {
    pub fn new(name: String, settings: Settings, client: reqwest::Client) -> Self {
        Self {
            name,
            settings,
            client,
            reports: SmsReport,
        }
    }
}

impl Sender for AliyunSms {
    fn name(&self) -> &str {
        &self.name
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move { self.send_once(message).await })
    }

    fn receipts(&self) -> Option<&dyn ReceiptHook> {
        Some(&self.reports)
    }
}

impl AliyunSms {
    async fn send_once(&self, message: &Outgoing) -> Outcome {
        let settings = &self.settings;
        let (mut url, host) = match endpoint(&settings.endpoint) {
            Ok(parts) => parts,
            Err(reason) => return local_failure("endpoint", Retry::Never, reason),
        };
        let nonce = match nonce() {
            Ok(nonce) => nonce,
            // The random source failing is the machine's passing trouble, not the message's.
            Err(reason) => return local_failure("nonce", Retry::Later { after: None }, reason),
        };
        // The template variables as the JSON object Aliyun fills the template from.
        let template_param = serde_json::Value::Object(
            message
                .params
                .iter()
                .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
                .collect(),
        )
        .to_string();
        let out_id = message.id.to_string();
        // RPC-style parameters go in the query, as Aliyun's own SDK sends SendSms; the body
        // stays empty (its hash is the empty string's).
        let params: [(&str, &str); 5] = [
            ("PhoneNumbers", &message.to),
            ("SignName", &settings.sign_name),
            ("TemplateCode", &settings.template_code),
            ("TemplateParam", &template_param),
            ("OutId", &out_id),
        ];
        let request = Acs3Request {
            method: "POST",
            host: &host,
            path: "/",
            query: &params,
            action: ACTION,
            version: VERSION,
            body: b"",
        };
        let signed = sign_acs3(
            &request,
            &settings.access_key_id,
            &settings.access_key_secret,
            Utc::now(),
            &nonce,
        );
        url.set_path("/");
        url.set_query(Some(&signed.query));
        let mut builder = self.client.post(url).timeout(settings.timeout);
        for (name, value) in &signed.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder = builder.header(AUTHORIZATION, signed.authorization);
        match exchange(builder).await {
            Ok((status, headers, answer)) => {
                classify(status, retry_after(&headers, Utc::now()), &answer)
            }
            Err(error) => transport_failure(error, "Aliyun SMS", settings.timeout),
        }
    }
}

/// The endpoint as a URL and the `host` header it is signed with (with its port, when the
/// URL names one: that is what the `Host` header carries).
fn endpoint(text: &str) -> Result<(reqwest::Url, String), String> {
    let url = reqwest::Url::parse(text).map_err(|error| {
        format!(
            "the Aliyun endpoint `{text}` is not a URL ({error}); correct the sender's endpoint"
        )
    })?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("the Aliyun endpoint `{text}` names no host; correct it"))?;
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok((url, host))
}

/// A fresh nonce for `x-acs-signature-nonce`: Aliyun refuses one it has seen
/// (`SignatureNonceUsed`), so a retried send is signed anew.
fn nonce() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| format!("the system's random source failed ({error})"))?;
    Ok(hex::encode(bytes))
}

fn local_failure(code: &str, retry: Retry, reason: String) -> Outcome {
    Outcome::Failed {
        retry,
        code: code.into(),
        reason,
        answer: String::new(),
    }
}

/// What is signed: an RPC-style request with its parameters in the query.
#[derive(Debug, Clone, Copy)]
pub struct Acs3Request<'a> {
    pub method: &'a str,
    /// The `host` header's value.
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub action: &'a str,
    pub version: &'a str,
    pub body: &'a [u8],
}

/// A signed request: what to send, and the steps, for tests and for the operator who must
/// compare with Aliyun's "the string to sign is …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The canonical query, which is also the query sent.
    pub query: String,
    /// The signed headers (`host` and the `x-acs-*`), sorted by name.
    pub headers: Vec<(String, String)>,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub authorization: String,
}

/// Signs `request` with ACS3-HMAC-SHA256 (Aliyun's "V3版本请求体&签名机制"): the canonical
/// request (method, canonical URI, canonical query, canonical headers, signed header
/// names, the body's SHA-256), its SHA-256 after the algorithm's name as the string to
/// sign, and HMAC-SHA256 of that under the AccessKey secret.
pub fn sign_acs3(
    request: &Acs3Request<'_>,
    access_key_id: &str,
    access_key_secret: &str,
    date: DateTime<Utc>,
    nonce: &str,
) -> Signed {
    let query = canonical_query(request.query);
    let content_sha256 = sha256_hex(request.body);
    // Already lower-case and in byte order: host < x-acs-action < … < x-acs-version.
    let headers: Vec<(String, String)> = vec![
        ("host".into(), request.host.trim().into()),
        ("x-acs-action".into(), request.action.into()),
        ("x-acs-content-sha256".into(), content_sha256.clone()),
        (
            "x-acs-date".into(),
            date.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("x-acs-signature-nonce".into(), nonce.into()),
        ("x-acs-version".into(), request.version.into()),
    ];
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_uri = request
        .path
        .split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{content_sha256}",
        request.method
    );
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let signature = hmac_sha256_hex(access_key_secret.as_bytes(), string_to_sign.as_bytes());
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    );
    Signed {
        query,
        headers,
        canonical_request,
        string_to_sign,
        authorization,
    }
}

/// Aliyun's answer (SendSms's, and its gateway's for a refused request).
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "BizId")]
    biz_id: Option<String>,
}

/// The answer to one SendSms as an outcome (pure). Business errors come with HTTP 200 and a
/// `Code` other than `OK`; the gateway's refusals (signature, key, throttling) with a 4xx
/// or 5xx and the same body shape.
pub fn classify(status: u16, retry_after: Option<Duration>, answer: &str) -> Outcome {
    let audit = trimmed(answer);
    let parsed: Option<Answer> = serde_json::from_str(answer).ok();
    let Some(Answer {
        code: Some(code),
        message,
        biz_id,
    }) = parsed
    else {
        let retry = if http_status_is_retryable(status) {
            Retry::Later { after: retry_after }
        } else {
            Retry::Never
        };
        return Outcome::Failed {
            retry,
            code: format!("HTTP {status}"),
            reason: format!(
                "Aliyun SMS answered HTTP {status} without an error code it documents; {}",
                if retry == Retry::Never {
                    "check the sender's endpoint"
                } else {
                    "it will be tried again"
                }
            ),
            answer: audit,
        };
    };
    if code == "OK" && (200..300).contains(&status) {
        return Outcome::Accepted {
            provider_id: biz_id.filter(|id| !id.is_empty()),
            answer: audit,
        };
    }
    let message = message.unwrap_or_default();
    let (retry, advice) = match error_kind(&code, status) {
        ErrorKind::Transient => (
            Retry::Later { after: retry_after },
            "Aliyun is throttling or failing; it will be tried again",
        ),
        ErrorKind::Number => (
            Retry::Never,
            "the mobile number is not one Aliyun can send to; correct the contact's number",
        ),
        ErrorKind::Content => (
            Retry::Never,
            "the sign, template or its variables are not approved or do not match; check them \
             in the Aliyun SMS console and the sender's sign_name / template_code",
        ),
        ErrorKind::Credentials => (
            Retry::Never,
            "Aliyun does not accept the sender's AccessKey (unknown, disabled, lacking the \
             AliyunDysmsFullAccess permission, or the secret is wrong); correct the keys",
        ),
        ErrorKind::Account => (
            Retry::Never,
            "the Aliyun account cannot send (balance, service not opened, or suspended); \
             settle it in the Aliyun console",
        ),
        ErrorKind::Other => (Retry::Never, "Aliyun refused the request; see its message"),
    };
    Outcome::Failed {
        retry,
        reason: format!("Aliyun SMS refused message ({code}: {message}): {advice}"),
        code,
        answer: audit,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    /// Throttling and platform failures: the same request can pass later.
    Transient,
    Number,
    Content,
    Credentials,
    Account,
    Other,
}

/// Aliyun's error codes, by what can be done about them. From the SMS "API错误码" list and
/// the OpenAPI gateway's common codes (SignatureDoesNotMatch, InvalidAccessKeyId.*,
/// Throttling.*, SignatureNonceUsed, InvalidTimeStamp.*).
fn error_kind(code: &str, status: u16) -> ErrorKind {
    match code {
        // 触发业务流控 (the per-number minute/hour/day frequency), the day's and month's
        // quota set in the console: they lift with time.
        "isv.BUSINESS_LIMIT_CONTROL" | "isv.DAY_LIMIT_CONTROL" | "isv.MONTH_LIMIT_CONTROL" => {
            ErrorKind::Transient
        }
        // The platform's own failure; a nonce seen before (a fresh one is drawn per
        // attempt). InvalidTimeStamp.* (below) is a clock off by more than Aliyun allows: it
        // passes once the clock is put right, and a warning must not be dropped for it.
        "isp.SYSTEM_ERROR" | "isp.GATEWAY_ERROR" | "SignatureNonceUsed" | "ServiceUnavailable"
        | "InternalError" | "UnknownError" => ErrorKind::Transient,
        "isv.MOBILE_NUMBER_ILLEGAL"
        | "isv.MOBILE_COUNT_OVER_LIMIT"
        | "isv.DOMESTIC_NUMBER_NOT_SUPPORTED"
        | "isv.BLACK_KEY_CONTROL_LIMIT" => ErrorKind::Number,
        "isv.SMS_TEMPLATE_ILLEGAL"
        | "isv.SMS_SIGNATURE_ILLEGAL"
        | "isv.SMS_SIGN_ILLEGAL"
        | "isv.SIGN_STATE_ILLEGAL"
        | "isv.SMS_SIGNATURE_SCENE_ILLEGAL"
        | "isv.TEMPLATE_MISSING_PARAMETERS"
        | "isv.TEMPLATE_PARAMS_ILLEGAL"
        | "isv.INVALID_JSON_PARAM"
        | "isv.INVALID_PARAMETERS"
        | "isv.PARAM_LENGTH_LIMIT"
        | "isv.SMS_CONTENT_ILLEGAL"
        | "isv.EXTEND_CODE_ERROR" => ErrorKind::Content,
        "InvalidAccessKeyId.NotFound"
        | "InvalidAccessKeyId.Inactive"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "isp.RAM_PERMISSION_DENY"
        | "Forbidden.RAM"
        | "isv.DENY_IP_RANGE" => ErrorKind::Credentials,
        "isv.AMOUNT_NOT_ENOUGH"
        | "isv.OUT_OF_SERVICE"
        | "isv.PRODUCT_UN_SUBSCRIPT"
        | "isv.PRODUCT_UNSUBSCRIBE"
        | "isv.ACCOUNT_NOT_EXISTS"
        | "isv.ACCOUNT_ABNORMAL" => ErrorKind::Account,
        _ if code.starts_with("Throttling") || code.starts_with("InvalidTimeStamp") => {
            ErrorKind::Transient
        }
        // A code not in the list: the platform's side (isp.*) or a 5xx passes with time;
        // anything else is taken as final and shown, rather than retried blindly.
        _ if code.starts_with("isp.") || http_status_is_retryable(status) => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// Reads Aliyun's SmsReport pushes ("HTTP批量推送模式"): a JSON array of reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmsReport;

#[derive(Debug, Deserialize)]
struct Report {
    biz_id: String,
    #[serde(default)]
    out_id: Option<String>,
    success: bool,
    #[serde(default)]
    err_code: String,
    #[serde(default)]
    err_msg: String,
    #[serde(default)]
    report_time: Option<String>,
}

impl ReceiptHook for SmsReport {
    fn parse(&self, body: &[u8]) -> Result<Vec<Receipt>, String> {
        let reports: Vec<Report> = serde_json::from_slice(body).map_err(|error| {
            format!(
                "the Aliyun SmsReport body is not the documented JSON array of reports ({error})"
            )
        })?;
        Ok(reports
            .into_iter()
            .map(|report| Receipt {
                provider_id: report.biz_id,
                // duban's OutId is the outbox id; an OutId that is not a number was not set
                // by duban.
                out_id: report.out_id.and_then(|id| id.trim().parse().ok()),
                delivered: report.success,
                code: report.err_code,
                reason: report.err_msg,
                at: report.report_time.as_deref().and_then(beijing_time),
            })
            .collect())
    }

    fn reply(&self) -> &'static str {
        // The answer SmsReport's document asks for; Aliyun checks only that `code` is a
        // number, and pushes again (after 1, 5 and 10 minutes) on anything but HTTP 200.
        r#"{"code":0,"msg":"接收成功"}"#
    }
}

/// `2017-01-01 00:00:00` as Aliyun (and Tencent) write it: Beijing time, no offset.
pub(crate) fn beijing_time(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let beijing = chrono::FixedOffset::east_opt(8 * 3600)?;
    Some(local.and_local_timezone(beijing).single()?.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Aliyun's "V3版本请求体&签名机制" (固定参数示例): RunInstances
    /// on ecs.cn-shanghai, AccessKey `YourAccessKeyId` / `YourAccessKeySecret`, date
    /// 2023-10-26T10:22:32Z, nonce 3156853299f313e23d1673dc12e1703d, no body. The document
    /// gives the canonical headers, the hashed canonical request and the signature below.
    #[test]
    fn signing_reproduces_aliyuns_documented_example() {
        let date = DateTime::parse_from_rfc3339("2023-10-26T10:22:32Z")
            .unwrap()
            .to_utc();
        let query = [
            ("RegionId", "cn-shanghai"),
            (
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            ),
        ];
        let request = Acs3Request {
            method: "POST",
            host: "ecs.cn-shanghai.aliyuncs.com",
            path: "/",
            query: &query,
            action: "RunInstances",
            version: "2014-05-26",
            body: b"",
        };
        let signed = sign_acs3(
            &request,
            "YourAccessKeyId",
            "YourAccessKeySecret",
            date,
            "3156853299f313e23d1673dc12e1703d",
        );
        assert_eq!(
            signed.query,
            "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
        );
        assert!(signed.canonical_request.contains(
            "host:ecs.cn-shanghai.aliyuncs.com\n\
             x-acs-action:RunInstances\n\
             x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-acs-date:2023-10-26T10:22:32Z\n\
             x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
             x-acs-version:2014-05-26\n"
        ));
        assert_eq!(
            signed.string_to_sign,
            "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(
            signed.authorization,
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,\
             SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;\
             x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    #[test]
    fn the_secret_is_not_in_the_settings_debug() {
        let settings = Settings {
            endpoint: ENDPOINT.into(),
            access_key_id: "id".into(),
            access_key_secret: "s3cr3t-value".into(),
            sign_name: "s".into(),
            template_code: "t".into(),
            timeout: Duration::from_secs(1),
        };
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("s3cr3t-value") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn a_different_secret_or_nonce_changes_the_signature() {
        let date = DateTime::parse_from_rfc3339("2026-11-25T02:00:00Z")
            .unwrap()
            .to_utc();
        let query = [("PhoneNumbers", "13800138000"), ("OutId", "42")];
        let request = Acs3Request {
            method: "POST",
            host: "dysmsapi.aliyuncs.com",
            path: "/",
            query: &query,
            action: ACTION,
            version: VERSION,
            body: b"",
        };
        let one = sign_acs3(&request, "id", "secret", date, "n1");
        assert_ne!(
            one.authorization,
            sign_acs3(&request, "id", "other", date, "n1").authorization
        );
        assert_ne!(
            one.authorization,
            sign_acs3(&request, "id", "secret", date, "n2").authorization
        );
        assert_eq!(one.query, "OutId=42&PhoneNumbers=13800138000");
    }

    fn failed(outcome: Outcome) -> (Retry, String) {
        match outcome {
            Outcome::Failed { retry, code, .. } => (retry, code),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn answers_are_classified_by_their_documented_codes() {
        let accepted = classify(
            200,
            None,
            r#"{"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990","Code":"OK","BizId":"900619746936498440^0"}"#,
        );
        assert_eq!(
            accepted,
            Outcome::Accepted {
                provider_id: Some("900619746936498440^0".into()),
                answer: r#"{"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990","Code":"OK","BizId":"900619746936498440^0"}"#.into(),
            }
        );
        let later = Retry::Later { after: None };
        for (status, code, retry) in [
            (200, "isv.BUSINESS_LIMIT_CONTROL", later),
            (200, "isv.DAY_LIMIT_CONTROL", later),
            (200, "isp.SYSTEM_ERROR", later),
            (400, "Throttling.User", later),
            (503, "ServiceUnavailable", later),
            (200, "isv.MOBILE_NUMBER_ILLEGAL", Retry::Never),
            (200, "isv.SMS_TEMPLATE_ILLEGAL", Retry::Never),
            (200, "isv.SMS_SIGNATURE_ILLEGAL", Retry::Never),
            (200, "isv.AMOUNT_NOT_ENOUGH", Retry::Never),
            (404, "InvalidAccessKeyId.NotFound", Retry::Never),
            (400, "SignatureDoesNotMatch", Retry::Never),
            (403, "isp.RAM_PERMISSION_DENY", Retry::Never),
            (200, "isv.SOMETHING_NEW", Retry::Never),
        ] {
            let body = format!(r#"{{"Message":"m","RequestId":"r","Code":"{code}"}}"#);
            assert_eq!(
                failed(classify(status, None, &body)),
                (retry, code.to_owned()),
                "{code}"
            );
        }
        // No documented body: the status decides.
        assert_eq!(
            failed(classify(
                502,
                Some(Duration::from_secs(5)),
                "<html>Bad Gateway</html>"
            )),
            (
                Retry::Later {
                    after: Some(Duration::from_secs(5))
                },
                "HTTP 502".into()
            )
        );
        assert_eq!(
            failed(classify(404, None, "")),
            (Retry::Never, "HTTP 404".into())
        );
    }

    #[test]
    fn reports_are_read_from_the_documented_sample() {
        // SmsReport's documented sample, with a numeric out_id as duban sets it.
        let body = r#"[
          {
            "phone_number" : "1381111****",
            "send_time" : "2017-01-01 00:00:00",
            "report_time" : "2017-01-01 00:00:00",
            "success" : true,
            "err_code" : "DELIVERED",
            "err_msg" : "用户接收成功",
            "sms_size" : "1",
            "biz_id" : "12345",
            "out_id" : "67890"
          }
        ]"#;
        let receipts = SmsReport.parse(body.as_bytes()).unwrap();
        assert_eq!(
            receipts,
            vec![Receipt {
                provider_id: "12345".into(),
                out_id: Some(67890),
                delivered: true,
                code: "DELIVERED".into(),
                reason: "用户接收成功".into(),
                at: Some(
                    DateTime::parse_from_rfc3339("2016-12-31T16:00:00Z")
                        .unwrap()
                        .to_utc()
                ),
            }]
        );
        let error = SmsReport.parse(b"{\"not\":\"an array\"}").unwrap_err();
        assert!(error.contains("JSON array"), "{error}");
        let reply: serde_json::Value = serde_json::from_str(SmsReport.reply()).unwrap();
        assert_eq!(reply["code"], 0);
    }
}
