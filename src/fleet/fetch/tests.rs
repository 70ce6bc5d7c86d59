use super::*;

fn sorted(code: &str, message: &str) -> FetchError {
    sort("/p".into(), code.into(), message.into())
}

#[test]
fn failures_are_sorted_by_what_the_operator_can_do() {
    assert_eq!(
        sorted("ParameterNotFound", ""),
        FetchError::NotFound { name: "/p".into() }
    );
    let denied = sorted(
        "AccessDeniedException",
        "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: ssm:GetParameter",
    );
    assert!(matches!(denied, FetchError::AccessDenied { .. }));
    assert!(
        denied
            .to_string()
            .starts_with("parameter /p: access denied (AccessDeniedException): the node's identity needs ssm:GetParameter on /p")
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
    assert!(throttled.is_transient());
    assert_eq!(
        throttled.to_string(),
        "parameter /p: ThrottlingException: Rate exceeded"
    );
}
