//! Alibaba Cloud SMS `SendSms` (API 2017-05-25) signed with ACS3-HMAC-SHA256, and its SmsReport delivery reports.
