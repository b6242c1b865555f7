//! Email over SMTP (lettre): STARTTLS, implicit TLS or plain, an HTML part with a plain-text part and the chart inline.
