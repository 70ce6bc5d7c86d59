//! Vectors from the AWS SigV4 test suite (the `aws-sig-v4-test-suite` published with the
//! specification): request, credentials, time and expected Authorization header.
use super::*;
use hyper::header::{HeaderName, HeaderValue};
use time::macros::datetime;

const SUITE_KEY: &str = "AKIDEXAMPLE";
const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_NOW: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);

fn creds() -> HashMap<String, String> {
    [(SUITE_KEY.to_owned(), SUITE_SECRET.to_owned())]
        .into_iter()
        .collect()
}

fn headers(list: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in list {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn check(
    method: &str,
    target: &str,
    hdrs: &[(&str, &str)],
    body: &[u8],
    service: &str,
    now: OffsetDateTime,
) -> Result<Verified, ApiError> {
    let h = headers(hdrs);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let req = SignedRequest {
        method,
        path,
        query,
        headers: &h,
        body,
    };
    let c = creds();
    verify(
        &req,
        &VerifyConfig {
            service,
            credentials: &c,
            now,
            max_skew: Duration::from_secs(15 * 60),
        },
    )
}

fn auth(signed: &str, sig: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={sig}"
    )
}

#[test]
fn get_vanilla() {
    let a = auth(
        "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    let hdrs = [
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        ("authorization", a.as_str()),
    ];
    let v = check("GET", "/", &hdrs, b"", "service", SUITE_NOW).unwrap();
    assert_eq!(v.access_key_id, SUITE_KEY);
    assert_eq!(v.region, "us-east-1");
    // The same request relative path forms normalise to the same signature.
    check(
        "GET",
        "/example1/example2/../..",
        &hdrs,
        b"",
        "service",
        SUITE_NOW,
    )
    .unwrap();
}

#[test]
fn get_vanilla_query_order_encoded() {
    let a = auth(
        "host;x-amz-date",
        "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
    );
    let hdrs = [
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        ("authorization", a.as_str()),
    ];
    check(
        "GET",
        "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        &hdrs,
        b"",
        "service",
        SUITE_NOW,
    )
    .unwrap();
}

#[test]
fn get_header_value_trim_and_duplicate_keys() {
    let a = auth(
        "host;my-header1;my-header2;x-amz-date",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    );
    let hdrs = [
        ("host", "example.amazonaws.com"),
        ("my-header1", " value1"),
        ("my-header2", "\"a   b   c\""),
        ("x-amz-date", "20150830T123600Z"),
        ("authorization", a.as_str()),
    ];
    check("GET", "/", &hdrs, b"", "service", SUITE_NOW).unwrap();

    let a = auth(
        "host;my-header1;x-amz-date",
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    );
    let hdrs = [
        ("host", "example.amazonaws.com"),
        ("my-header1", "value2"),
        ("my-header1", "value2"),
        ("my-header1", "value1"),
        ("x-amz-date", "20150830T123600Z"),
        ("authorization", a.as_str()),
    ];
    check("GET", "/", &hdrs, b"", "service", SUITE_NOW).unwrap();
}

#[test]
fn get_slashes_normalized() {
    let a = auth(
        "host;x-amz-date",
        "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    );
    let hdrs = [
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        ("authorization", a.as_str()),
    ];
    check("GET", "//example//", &hdrs, b"", "service", SUITE_NOW).unwrap();
}

#[test]
fn with_session_token() {
    let a = auth(
        "host;x-amz-date;x-amz-security-token",
        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    );
    let hdrs = [
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        (
            "x-amz-security-token",
            "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
        ),
        ("authorization", a.as_str()),
    ];
    check("GET", "/", &hdrs, b"", "service", SUITE_NOW).unwrap();
}

#[test]
fn post_with_body_and_content_sha256() {
    let a = auth(
        "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
    );
    let hdrs = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", "example.amazonaws.com"),
        ("content-length", "13"),
        ("x-amz-date", "20150830T123600Z"),
        (
            "x-amz-content-sha256",
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
        ),
        ("authorization", a.as_str()),
    ];
    check("POST", "/", &hdrs, b"Param1=value1", "service", SUITE_NOW).unwrap();
    // A body that differs from the claimed hash is refused.
    let err = check("POST", "/", &hdrs, b"Param1=value2", "service", SUITE_NOW).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSignature);
}

#[test]
fn double_encoded_path() {
    let a = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20210511/us-east-2/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=4b93abbcc68be32bd64c18e2c71150660ab4c29bbd6c32a383a7517a88fc1804";
    let hdrs = [
        ("host", "lambda.us-east-2.amazonaws.com"),
        ("x-amz-date", "20210511T154045Z"),
        ("authorization", a),
    ];
    check(
        "POST",
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun/invocations",
        &hdrs,
        b"",
        "lambda",
        datetime!(2021-05-11 15:40:45 UTC),
    )
    .unwrap();
}

fn vanilla(sig: &str) -> Vec<(&'static str, String)> {
    vec![
        ("host", "example.amazonaws.com".to_owned()),
        ("x-amz-date", "20150830T123600Z".to_owned()),
        ("authorization", auth("host;x-amz-date", sig)),
    ]
}

fn check_owned(
    hdrs: &[(&str, String)],
    service: &str,
    now: OffsetDateTime,
) -> Result<Verified, ApiError> {
    let borrowed: Vec<(&str, &str)> = hdrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    check("GET", "/", &borrowed, b"", service, now)
}

const GOOD: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

#[test]
fn wrong_signature() {
    let bad = GOOD.replace('5', "6");
    let err = check_owned(&vanilla(&bad), "service", SUITE_NOW).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSignature);
    assert!(err.message.contains("does not match"));
}

#[test]
fn wrong_service_scope() {
    let err = check_owned(&vanilla(GOOD), "ssm", SUITE_NOW).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSignature);
    assert!(err.message.contains("'ssm'"));
}

#[test]
fn clock_skew_both_ways() {
    let late = SUITE_NOW + time::Duration::minutes(16);
    let err = check_owned(&vanilla(GOOD), "service", late).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSignature);
    assert!(
        err.message.starts_with("Signature expired"),
        "{}",
        err.message
    );
    let early = SUITE_NOW - time::Duration::minutes(16);
    let err = check_owned(&vanilla(GOOD), "service", early).unwrap_err();
    assert!(
        err.message.starts_with("Signature not yet current"),
        "{}",
        err.message
    );
    // Within the window is fine.
    check_owned(
        &vanilla(GOOD),
        "service",
        SUITE_NOW + time::Duration::minutes(14),
    )
    .unwrap();
}

#[test]
fn unknown_key_missing_and_malformed_authorization() {
    let mut h = vanilla(GOOD);
    h[2].1 = h[2].1.replace("AKIDEXAMPLE", "AKIDOTHER");
    assert_eq!(
        check_owned(&h, "service", SUITE_NOW).unwrap_err().code,
        ErrorCode::UnrecognizedClient
    );
    let h = &vanilla(GOOD)[..2];
    assert_eq!(
        check_owned(h, "service", SUITE_NOW).unwrap_err().code,
        ErrorCode::MissingAuthenticationToken
    );
    let mut h = vanilla(GOOD);
    h[2].1 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1".to_owned();
    assert_eq!(
        check_owned(&h, "service", SUITE_NOW).unwrap_err().code,
        ErrorCode::IncompleteSignature
    );
    let mut h = vanilla(GOOD);
    h.remove(1); // no X-Amz-Date
    assert_eq!(
        check_owned(&h, "service", SUITE_NOW).unwrap_err().code,
        ErrorCode::IncompleteSignature
    );
}

#[test]
fn canonical_uri_forms() {
    assert_eq!(canonical_uri("/"), "/");
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/a/./b/../c/"), "/a/c/");
    assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
}
