//! Tencent Cloud SMS (腾讯云短信, API 2021-01-11): `SendSms` over HTTPS POST with a JSON
//! body, signed with TC3-HMAC-SHA256 (service `sms`), and the status callbacks (短信下发状态
//! 通知) Tencent pushes back. The message's outbox id travels as `SessionContext`, which
//! Tencent echoes in its answer; the number's `SerialNo` is the provider id.
//!
//! The signing (`sign_tc3`) is a pure function of the request, the keys and the timestamp,
//! pinned against the worked CVM `DescribeInstances` example of Tencent's "签名方法 v3"
//! document. Error codes are read as Tencent's common error codes and SMS error-code list
//! (cloud.tencent.com/document/api/382/52075 and /382/59177) describe them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use serde::{Deserialize, Serialize};

use super::aliyun::beijing_time;
use super::gateway::{exchange, http_status_is_retryable, retry_after, transport_failure, trimmed};
use super::sign::{hmac_sha256, hmac_sha256_hex, sha256_hex};
use super::{Outcome, Receipt, ReceiptHook, Retry, SendFuture, Sender};
use crate::warnings::contacts::mask;
use crate::warnings::message::{Channel, Outgoing};

/// Tencent's SMS endpoint.
pub const ENDPOINT: &str = "https://sms.tencentcloudapi.com";
const SERVICE: &str = "sms";
const ACTION: &str = "SendSms";
const VERSION: &str = "2021-01-11";
const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The content type that is signed must be the one sent, byte for byte.
const CONTENT_TYPE_JSON: &str = "application/json; charset=utf-8";

/// How a Tencent sender is set up (the config is wired to this by the caller).
/// Its `Debug` leaves the secret out, so a logged config does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// `ENDPOINT`, or a stand-in (tests point it at a loopback double over plain http).
    pub endpoint: String,
    pub secret_id: String,
    pub secret_key: String,
    /// `X-TC-Region`, e.g. `ap-guangzhou`.
    pub region: String,
    /// The SMS application's SdkAppId, e.g. `1400006666`.
    pub sdk_app_id: String,
    /// The approved sign (签名).
    pub sign_name: String,
    /// The approved template's id; its variables are the message's `params`, in order.
    pub template_id: String,
    /// How long one request may take, answer included.
    pub timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .field("region", &self.region)
            .field("sdk_app_id", &self.sdk_app_id)
            .field("sign_name", &self.sign_name)
            .field("template_id", &self.template_id)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct TencentSms {
    name: String,
    settings: Settings,
    client: reqwest::Client,
    callbacks: StatusCallback,
}

impl TencentSms {
    pub fn new(name: String, settings: Settings, client: reqwest::Client) -> Self {
        Self {
            name,
            settings,
            client,
            callbacks: StatusCallback,
        }
    }
}

impl Sender for TencentSms {
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
        Some(&self.callbacks)
    }
}

/// SendSms's body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendSmsBody<'a> {
    phone_number_set: [String; 1],
    sms_sdk_app_id: &'a str,
    sign_name: &'a str,
    template_id: &'a str,
    template_param_set: Vec<&'a str>,
    session_context: String,
}

impl TencentSms {
    async fn send_once(&self, message: &Outgoing) -> Outcome {
        let settings = &self.settings;
        let (url, host) = match endpoint(&settings.endpoint) {
            Ok(parts) => parts,
            Err(reason) => {
                return Outcome::Failed {
                    retry: Retry::Never,
                    code: "endpoint".into(),
                    reason,
                    answer: String::new(),
                };
            }
        };
        let number = e164(&message.to);
        let body = SendSmsBody {
            phone_number_set: [number.clone()],
            sms_sdk_app_id: &settings.sdk_app_id,
            sign_name: &settings.sign_name,
            template_id: &settings.template_id,
            template_param_set: message
                .params
                .iter()
                .map(|(_, value)| value.as_str())
                .collect(),
            session_context: message.id.to_string(),
        };
        let payload = match serde_json::to_vec(&body) {
            Ok(payload) => payload,
            Err(error) => {
                return Outcome::Failed {
                    retry: Retry::Never,
                    code: "body".into(),
                    reason: format!("the SendSms body could not be written ({error})"),
                    answer: String::new(),
                };
            }
        };
        let timestamp = Utc::now().timestamp();
        let signed = sign_tc3(
            &Tc3Request {
                method: "POST",
                service: SERVICE,
                headers: &[
                    ("content-type", CONTENT_TYPE_JSON),
                    ("host", &host),
                    ("x-tc-action", ACTION),
                ],
                payload: &payload,
            },
            &settings.secret_id,
            &settings.secret_key,
            timestamp,
        );
        let request = self
            .client
            .post(url)
            .timeout(settings.timeout)
            .header(CONTENT_TYPE, CONTENT_TYPE_JSON)
            .header(HOST, &host)
            .header("X-TC-Action", ACTION)
            .header("X-TC-Version", VERSION)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Region", &settings.region)
            .header(AUTHORIZATION, signed.authorization)
            .body(payload);
        match exchange(request).await {
            Ok((status, headers, answer)) => {
                // Tencent's answer repeats the number; the audit shows it masked, as
                // everywhere but the office's own views.
                let answer = answer.replace(&number, &mask(&number));
                classify(status, retry_after(&headers, Utc::now()), &answer)
            }
            Err(error) => transport_failure(error, "Tencent Cloud SMS", settings.timeout),
        }
    }
}

/// The endpoint as a URL and the `host` it is signed with (with the port when named).
fn endpoint(text: &str) -> Result<(reqwest::Url, String), String> {
    let mut url = reqwest::Url::parse(text).map_err(|error| {
        format!(
            "the Tencent endpoint `{text}` is not a URL ({error}); correct the sender's endpoint"
        )
    })?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("the Tencent endpoint `{text}` names no host; correct it"))?;
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    // API 3.0 signs the canonical URI `/`, so that is the path sent.
    url.set_path("/");
    Ok((url, host))
}

/// A mainland number as E.164 (`+86…`); one already written with a `+` is left as it is.
fn e164(mobile: &str) -> String {
    let digits: String = mobile
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("0086") {
        format!("+86{rest}")
    } else {
        format!("+86{digits}")
    }
}

/// What is signed. `headers` are the signed ones (at least `content-type` and `host`), with
/// the values exactly as sent.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Request<'a> {
    pub method: &'a str,
    pub service: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// A signed request's steps, for tests and for comparing with Tencent's API Explorer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub authorization: String,
}

/// Signs `request` with TC3-HMAC-SHA256 ("签名方法 v3"): the canonical request (method,
/// `/`, an empty query for POST, the signed headers as `name:value` lower-cased and trimmed
/// in name order, their names, the payload's SHA-256), the string to sign (algorithm,
/// timestamp, the credential scope `date/service/tc3_request`, the canonical request's
/// SHA-256), and the signature under the key derived from `TC3` + secret through the UTC
/// date, the service and `tc3_request`.
pub fn sign_tc3(
    request: &Tc3Request<'_>,
    secret_id: &str,
    secret_key: &str,
    timestamp: i64,
) -> Signed {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_ascii_lowercase()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        sha256_hex(request.payload)
    );
    // The scope's date is the timestamp's UTC date (not Beijing's), as the document warns.
    let date = DateTime::from_timestamp(timestamp, 0)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .format("%Y-%m-%d")
        .to_string();
    let scope = format!("{date}/{}/tc3_request", request.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let secret_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, request.service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    let signature = hmac_sha256_hex(&secret_signing, string_to_sign.as_bytes());
    let authorization = format!(
        "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    );
    Signed {
        canonical_request,
        string_to_sign,
        authorization,
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Response,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    error: Option<ApiError>,
    #[serde(default)]
    send_status_set: Vec<SendStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendStatus {
    #[serde(default)]
    serial_no: String,
    code: String,
    #[serde(default)]
    message: String,
}

/// The answer to one SendSms as an outcome (pure). API 3.0 answers HTTP 200 whatever
/// happened: a request refused as a whole has `Response.Error`; otherwise each number has
/// its own `Code` in `SendStatusSet` (`Ok`, or an error code).
pub fn classify(status: u16, retry_after: Option<Duration>, answer: &str) -> Outcome {
    let audit = trimmed(answer);
    let response = match serde_json::from_str::<Envelope>(answer) {
        Ok(envelope) => envelope.response,
        Err(_) => {
            let retry = if http_status_is_retryable(status) {
                Retry::Later { after: retry_after }
            } else {
                Retry::Never
            };
            return Outcome::Failed {
                retry,
                code: format!("HTTP {status}"),
                reason: format!(
                    "Tencent Cloud SMS answered HTTP {status} without its documented `Response`; {}",
                    if retry == Retry::Never {
                        "check the sender's endpoint"
                    } else {
                        "it will be tried again"
                    }
                ),
                answer: audit,
            };
        }
    };
    let (code, message) = if let Some(error) = response.error {
        (error.code, error.message)
    } else if let Some(number) = response.send_status_set.into_iter().next() {
        if number.code == "Ok" {
            return Outcome::Accepted {
                provider_id: Some(number.serial_no).filter(|id| !id.is_empty()),
                answer: audit,
            };
        }
        (number.code, number.message)
    } else {
        return Outcome::Failed {
            retry: Retry::Later { after: retry_after },
            code: "no_status".into(),
            reason: "Tencent Cloud SMS answered without an error and without the number's \
                     status; it will be tried again"
                .into(),
            answer: audit,
        };
    };
    let (retry, advice) = match error_kind(&code) {
        ErrorKind::Transient => (
            Retry::Later { after: retry_after },
            "Tencent is throttling or failing; it will be tried again",
        ),
        ErrorKind::Number => (
            Retry::Never,
            "the mobile number is not one Tencent can send to (malformed, or on the do-not-\
             disturb list); correct the contact's number",
        ),
        ErrorKind::Content => (
            Retry::Never,
            "the sign, template or its variables are not approved or do not match; check them \
             in the Tencent SMS console and the sender's sign_name / template_id / sdk_app_id",
        ),
        ErrorKind::Credentials => (
            Retry::Never,
            "Tencent does not accept the sender's SecretId / SecretKey or its permissions; \
             correct the keys or grant the SMS permission",
        ),
        ErrorKind::Account => (
            Retry::Never,
            "the Tencent account cannot send (no SMS package left, or in arrears); settle it \
             in the Tencent console",
        ),
        ErrorKind::Other => (Retry::Never, "Tencent refused the request; see its message"),
    };
    Outcome::Failed {
        retry,
        reason: format!("Tencent Cloud SMS refused message ({code}: {message}): {advice}"),
        code,
        answer: audit,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    Transient,
    Number,
    Content,
    Credentials,
    Account,
    Other,
}

/// Tencent's codes, by what can be done about them.
fn error_kind(code: &str) -> ErrorKind {
    match code {
        // Past the maximum of numbers in one request: the request is wrong, not early.
        "LimitExceeded.PhoneNumberCountLimit" => ErrorKind::Other,
        // The timestamp is more than five minutes off: passes once the clock is right.
        "AuthFailure.SignatureExpire" => ErrorKind::Transient,
        // Marketing texts only go 08:00–22:00; a later attempt can pass.
        "FailedOperation.MarketingSendTimeConstraint" => ErrorKind::Transient,
        "InternalError.RestApiInterfaceNotExist" => ErrorKind::Other,
        "InvalidParameterValue.IncorrectPhoneNumber"
        | "FailedOperation.PhoneNumberInBlacklist"
        | "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"
        | "UnsupportedOperation.UnsupportedRegion" => ErrorKind::Number,
        "FailedOperation.TemplateIncorrectOrUnapproved"
        | "FailedOperation.SignatureIncorrectOrUnapproved"
        | "FailedOperation.ContainSensitiveWord"
        | "FailedOperation.MissingSignature"
        | "FailedOperation.MissingTemplate"
        | "InvalidParameterValue.ContentLengthLimit"
        | "InvalidParameterValue.TemplateParameterFormatError"
        | "InvalidParameterValue.TemplateParameterLengthLimit"
        | "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"
        | "InvalidParameterValue.SdkAppIdNotExist"
        | "UnauthorizedOperation.SmsSdkAppIdVerifyFail" => ErrorKind::Content,
        // (`Serivce` is Tencent's own spelling of the code.)
        "FailedOperation.InsufficientBalanceInSmsPackage"
        | "UnauthorizedOperation.SerivceSuspendDueToArrears" => ErrorKind::Account,
        // Throttling (the API's and the per-number frequency policies) and Tencent's own
        // failures pass with time.
        _ if code.starts_with("RequestLimitExceeded")
            || code.starts_with("LimitExceeded")
            || code.starts_with("InternalError")
            || code == "ResourceUnavailable"
            || code == "ServiceUnavailable" =>
        {
            ErrorKind::Transient
        }
        _ if code.starts_with("AuthFailure") || code.starts_with("UnauthorizedOperation") => {
            ErrorKind::Credentials
        }
        _ if code.starts_with("InvalidParameter") || code.starts_with("MissingParameter") => {
            ErrorKind::Content
        }
        _ => ErrorKind::Other,
    }
}

/// Reads Tencent's status callbacks: a JSON array of reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusCallback;

#[derive(Debug, Deserialize)]
struct Report {
    sid: String,
    report_status: String,
    #[serde(default)]
    errmsg: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    user_receive_time: Option<String>,
}

impl ReceiptHook for StatusCallback {
    fn parse(&self, body: &[u8]) -> Result<Vec<Receipt>, String> {
        let reports: Vec<Report> = serde_json::from_slice(body).map_err(|error| {
            format!(
                "the Tencent status callback is not the documented JSON array of reports ({error})"
            )
        })?;
        reports
            .into_iter()
            .map(|report| {
                let delivered = match report.report_status.as_str() {
                    "SUCCESS" => true,
                    "FAIL" => false,
                    other => {
                        return Err(format!(
                            "a Tencent status report for {} has report_status `{other}`, \
                             neither SUCCESS nor FAIL",
                            report.sid
                        ));
                    }
                };
                Ok(Receipt {
                    provider_id: report.sid,
                    // The callback does not echo SessionContext: the receipt is matched by
                    // the SerialNo (`sid`) the answer gave.
                    out_id: None,
                    delivered,
                    code: report.errmsg,
                    reason: report.description,
                    at: report.user_receive_time.as_deref().and_then(beijing_time),
                })
            })
            .collect()
    }

    fn reply(&self) -> &'static str {
        // The response the callback document asks for: result 0 taken, errmsg "OK".
        r#"{"result":0,"errmsg":"OK"}"#
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent's "签名方法 v3" (Signature v3) document: CVM
    /// DescribeInstances in ap-guangzhou, SecretId `AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE`,
    /// SecretKey `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`, timestamp 1551113065, signed headers
    /// `content-type;host`. The document gives the payload's hash, the canonical request's
    /// hash and the signature below.
    #[test]
    fn signing_reproduces_tencents_documented_example() {
        let payload =
            br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let signed = sign_tc3(
            &Tc3Request {
                method: "POST",
                service: "cvm",
                headers: &[
                    ("Content-Type", "application/json; charset=utf-8"),
                    ("Host", "cvm.tencentcloudapi.com"),
                ],
                payload,
            },
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            1551113065,
        );
        assert_eq!(
            signed.canonical_request,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\n\
             host:cvm.tencentcloudapi.com\n\ncontent-type;host\n\
             35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            signed.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            signed.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/\
             tc3_request, SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn numbers_are_written_as_e164() {
        assert_eq!(e164("13800138000"), "+8613800138000");
        assert_eq!(e164("0086 138-0013-8000"), "+8613800138000");
        assert_eq!(e164("+85291234567"), "+85291234567");
    }

    fn failed(outcome: Outcome) -> (Retry, String) {
        match outcome {
            Outcome::Failed { retry, code, .. } => (retry, code),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn answers_are_classified_by_their_documented_codes() {
        // SendSms's documented success, one number.
        let ok = r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8618511122233","Fee":1,"SessionContext":"test","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}"#;
        match classify(200, None, ok) {
            Outcome::Accepted { provider_id, .. } => assert_eq!(
                provider_id.as_deref(),
                Some("5000:1045710669157053657849499619")
            ),
            other => panic!("{other:?}"),
        }
        let later = Retry::Later { after: None };
        for (code, retry) in [
            ("RequestLimitExceeded", later),
            ("InternalError.Timeout", later),
            ("InternalError", later),
            ("LimitExceeded.PhoneNumberThirtySecondLimit", later),
            ("LimitExceeded.DeliveryFrequencyLimit", later),
            ("AuthFailure.SignatureExpire", later),
            ("InvalidParameterValue.IncorrectPhoneNumber", Retry::Never),
            ("AuthFailure.SignatureFailure", Retry::Never),
            ("AuthFailure.SecretIdNotFound", Retry::Never),
            (
                "FailedOperation.TemplateIncorrectOrUnapproved",
                Retry::Never,
            ),
            (
                "FailedOperation.SignatureIncorrectOrUnapproved",
                Retry::Never,
            ),
            (
                "FailedOperation.InsufficientBalanceInSmsPackage",
                Retry::Never,
            ),
            ("UnauthorizedOperation.RequestPermissionDeny", Retry::Never),
            ("LimitExceeded.PhoneNumberCountLimit", Retry::Never),
        ] {
            let whole = format!(
                r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#
            );
            assert_eq!(
                failed(classify(200, None, &whole)),
                (retry, code.to_owned()),
                "{code}"
            );
            let per_number = format!(
                r#"{{"Response":{{"SendStatusSet":[{{"SerialNo":"","PhoneNumber":"+8613800138000","Fee":0,"SessionContext":"1","Code":"{code}","Message":"m","IsoCode":"CN"}}],"RequestId":"r"}}}}"#
            );
            assert_eq!(
                failed(classify(200, None, &per_number)),
                (retry, code.to_owned()),
                "{code}"
            );
        }
        assert_eq!(
            failed(classify(502, None, "bad gateway")),
            (later, "HTTP 502".into())
        );
    }

    #[test]
    fn callbacks_are_read_from_the_documented_sample() {
        let body = r#"[
          {
            "user_receive_time": "2015-10-17 08:03:04",
            "nationcode": "86",
            "mobile": "13xxxxxxxxx",
            "report_status": "SUCCESS",
            "errmsg": "DELIVRD",
            "description": "用户短信送达成功",
            "sid": "xxxxxxx"
          }
        ]"#;
        let receipts = StatusCallback.parse(body.as_bytes()).unwrap();
        assert_eq!(
            receipts,
            vec![Receipt {
                provider_id: "xxxxxxx".into(),
                out_id: None,
                delivered: true,
                code: "DELIVRD".into(),
                reason: "用户短信送达成功".into(),
                at: Some(
                    DateTime::parse_from_rfc3339("2015-10-17T00:03:04Z")
                        .unwrap()
                        .to_utc()
                ),
            }]
        );
        let odd = br#"[{"sid":"s","report_status":"MAYBE"}]"#;
        assert!(StatusCallback.parse(odd).unwrap_err().contains("MAYBE"));
        let reply: serde_json::Value = serde_json::from_str(StatusCallback.reply()).unwrap();
        assert_eq!(reply["result"], 0);
    }
}
