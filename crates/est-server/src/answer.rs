//! The answers the server sends, as HTTP responses: plain text, certs-only
//! PKCS#7 in base64 lines, a pending 202, and the header-echoing error page.

use crate::body::AnswerBody;
use crate::config::Faults;
use base64ct::Base64;
use hyper::Response;
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

/// An answer of the server.
pub(crate) type Answer = Response<AnswerBody>;

/// A plain-text answer with `status`.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Answer {
    let mut response = Response::new(AnswerBody::full(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A certs-only answer holding `der`.
pub(crate) fn pkcs7_answer(der: &[u8]) -> Answer {
    pkcs7_body(Bytes::from(base64_lines(der)))
}

/// A certs-only answer with its already base64-encoded `body`.
pub(crate) fn pkcs7_body(body: Bytes) -> Answer {
    let mut response = Response::new(AnswerBody::full(body));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/pkcs7-mime; smime-type=certs-only"),
    );
    headers.insert(
        "content-transfer-encoding",
        HeaderValue::from_static("base64"),
    );
    response
}

/// Base64 in 64-column lines, each ending with a newline (RFC 7030 answers).
pub(crate) fn base64_lines(der: &[u8]) -> String {
    let flat_len = der.len().div_ceil(3) * 4;
    let mut buffer = vec![0u8; flat_len + flat_len / 64 + 1];
    let wrapped =
        base64ct::Encoder::<Base64>::new_wrapped(&mut buffer, 64, base64ct::LineEnding::LF)
            .and_then(|mut encoder| {
                encoder.encode(der)?;
                encoder.finish().map(str::to_owned)
            });
    // The buffer is sized for the output, so encoding cannot fail.
    let mut text = wrapped.unwrap_or_default();
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// [`EnrollFault::EchoHeaders`]: a 500 error page that shows every request
/// header as it came, `Authorization` included, as some servers' debug
/// pages do.
///
/// [`EnrollFault::EchoHeaders`]: crate::EnrollFault::EchoHeaders
pub(crate) fn echo_headers(headers: &hyper::HeaderMap) -> Answer {
    let mut page = String::from(
        "<html><head><title>500 Internal Server Error</title></head><body>\n\
         <h1>Internal Server Error</h1>\n<p>The enrollment failed. The request was:</p>\n<pre>\n",
    );
    for (name, value) in headers {
        page.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    page.push_str("</pre>\n<p>est-server echo-headers fault</p>\n</body></html>\n");
    let mut answer = text(StatusCode::INTERNAL_SERVER_ERROR, page);
    answer.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    answer
}

/// 202 with `Retry-After`.
pub(crate) fn pending_answer(faults: &Faults) -> Answer {
    let mut answer = text(StatusCode::ACCEPTED, "request queued for approval");
    let retry_after = faults.retry_after.clone().unwrap_or_else(|| "1".into());
    if let Ok(value) = HeaderValue::from_str(&retry_after) {
        answer.headers_mut().insert(RETRY_AFTER, value);
    }
    answer
}

/// A certs-only answer whose body is `body` as it is.
pub(crate) fn pkcs7_with_body(body: String) -> Answer {
    let mut answer = pkcs7_answer(&[]);
    *answer.body_mut() = AnswerBody::full(body);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::Encoding;

    #[test]
    fn answers_are_64_column_base64_with_a_final_newline() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let text = base64_lines(&data);
        assert!(text.ends_with('\n'));
        assert!(text.lines().all(|l| l.len() <= 64));
        assert!(text.lines().rev().skip(1).all(|l| l.len() == 64));
        let compact: String = text.lines().collect();
        assert_eq!(Base64::decode_vec(&compact).unwrap(), data);
    }
}
