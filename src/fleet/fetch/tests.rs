use super::*;

fn sorted(code: &str, message: &str) -> FetchError {
    sort("/p".into(), code.into(), message.into(), 400)
}

#[test]
fn failures_are_sorted_by_what_the_operator_can_do() {
    assert_eq!(
        sorted("ParameterNotFound", ""),
        FetchError::NotFound { name: "/p".into() }
    );
    let denied = sorted(
        "AccessDeniedException",
        "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: ssm:GetParameters",
    );
    assert!(matches!(denied, FetchError::AccessDenied { .. }));
    assert!(
        denied
            .to_string()
            .starts_with("parameter /p: access denied (AccessDeniedException): the node's identity needs ssm:GetParameters on /p")
    );
    let kms = sorted(
        "AccessDeniedException",
        "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
    );
    assert!(matches!(kms, FetchError::Decrypt { .. }), "{kms}");
    assert!(kms.to_string().contains("kms:Decrypt"));
    assert!(matches!(
        sorted("InvalidKeyId", ""),
        FetchError::Decrypt { .. }
    ));
    let throttled = sorted("ThrottlingException", "Rate exceeded");
    assert!(throttled.is_transient() && throttled.is_busy());
    assert_eq!(
        throttled.to_string(),
        "parameter /p: ThrottlingException: Rate exceeded"
    );
    let failed = sort("/p".into(), "InternalServerError".into(), "".into(), 500);
    assert!(failed.is_busy(), "{failed:?}");
    let odd = sorted("SomethingElse", "");
    assert!(odd.is_transient() && !odd.is_busy());
}

#[test]
fn calls_are_one_per_ten_names() {
    assert_eq!(
        [0, 1, 10, 11, 20, 21].map(calls_per_poll),
        [0, 1, 1, 2, 2, 3]
    );
}
