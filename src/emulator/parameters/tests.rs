use super::*;

fn put(p: &mut Parameters, body: Value) -> Result<Value, ApiError> {
    p.put(&body)
}

#[test]
fn versions_overwrite_and_types() {
    let mut p = Parameters::default();
    let first = put(
        &mut p,
        json!({"Name": "/a", "Value": "x", "Type": "SecureString"}),
    )
    .unwrap();
    assert_eq!(first, json!({"Version": 1, "Tier": "Standard"}));
    let again = put(
        &mut p,
        json!({"Name": "/a", "Value": "y", "Type": "String"}),
    )
    .unwrap_err();
    assert_eq!(again.code, ErrorCode::ParameterAlreadyExists);
    let second = put(
        &mut p,
        json!({"Name": "/a", "Value": "y", "Overwrite": true}),
    )
    .unwrap();
    assert_eq!(second["Version"], 2);
    let got = p
        .get(&json!({"Name": "/a", "WithDecryption": true}), "eu-west-1")
        .unwrap();
    assert_eq!(got["Parameter"]["Value"], "y");
    assert_eq!(got["Parameter"]["Type"], "SecureString");
    assert_eq!(got["Parameter"]["Version"], 2);
    assert_eq!(
        got["Parameter"]["ARN"],
        "arn:aws:ssm:eu-west-1:123456789012:parameter/a"
    );
    let hidden = p.get(&json!({"Name": "/a"}), "eu-west-1").unwrap();
    assert_ne!(hidden["Parameter"]["Value"], "y");
    let old = p
        .get(&json!({"Name": "/a:1", "WithDecryption": true}), "r")
        .unwrap();
    assert_eq!(old["Parameter"]["Value"], "x");
    assert_eq!(old["Parameter"]["Selector"], ":1");
    assert_eq!(
        p.get(&json!({"Name": "/a:3"}), "r").unwrap_err().code,
        ErrorCode::ParameterVersionNotFound
    );
    assert_eq!(
        p.get(&json!({"Name": "/b"}), "r").unwrap_err().code,
        ErrorCode::ParameterNotFound
    );
    p.deny("/a");
    assert_eq!(
        p.get(&json!({"Name": "/a"}), "r").unwrap_err().code,
        ErrorCode::AccessDenied
    );
}

#[test]
fn get_many_answers_what_exists_and_lists_the_rest() {
    let mut p = Parameters::default();
    put(
        &mut p,
        json!({"Name": "/a", "Value": "x", "Type": "SecureString"}),
    )
    .unwrap();
    put(
        &mut p,
        json!({"Name": "/b", "Value": "y", "Type": "String"}),
    )
    .unwrap();
    let got = p
        .get_many(
            &json!({"Names": ["/a", "/missing", "/b", "/a:7"], "WithDecryption": true}),
            "r",
        )
        .unwrap();
    assert_eq!(got["Parameters"][0]["Value"], "x");
    assert_eq!(got["Parameters"][1]["Name"], "/b");
    assert_eq!(got["Parameters"].as_array().unwrap().len(), 2);
    assert_eq!(got["InvalidParameters"], json!(["/missing", "/a:7"]));
    let eleven: Vec<String> = (0..11).map(|i| format!("/n{i}")).collect();
    let e = p.get_many(&json!({"Names": eleven}), "r").unwrap_err();
    assert_eq!(e.code, ErrorCode::Validation);
    assert_eq!(
        p.get_many(&json!({"Names": []}), "r").unwrap_err().code,
        ErrorCode::Validation
    );
    p.deny("/b");
    let e = p
        .get_many(&json!({"Names": ["/a", "/b"]}), "r")
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AccessDenied);
    assert!(e.message.contains("ssm:GetParameters"), "{}", e.message);
}

#[test]
fn names_values_and_tiers_are_checked() {
    let mut p = Parameters::default();
    for bad in [
        "", "a/b", "/a//b", "/a b", "/aws/x", "/SSM/x", "ssm-x", "AwsX",
    ] {
        let e = put(&mut p, json!({"Name": bad, "Value": "x", "Type": "String"})).unwrap_err();
        assert_eq!(e.code, ErrorCode::Validation, "{bad}");
    }
    assert!(
        put(
            &mut p,
            json!({"Name": "/ssm-inventoryd/x", "Value": "x", "Type": "String"})
        )
        .is_ok()
    );
    let deep = "/x".repeat(16);
    let e = put(
        &mut p,
        json!({"Name": deep, "Value": "x", "Type": "String"}),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::HierarchyLevelLimitExceeded);
    let e = put(&mut p, json!({"Name": "/n", "Value": "x"})).unwrap_err();
    assert!(e.message.contains("type is required"), "{}", e.message);
    let e = put(&mut p, json!({"Name": "/n", "Value": "", "Type": "String"})).unwrap_err();
    assert_eq!(e.code, ErrorCode::Validation);
    let big = "x".repeat(4097);
    let e = put(
        &mut p,
        json!({"Name": "/n", "Value": big, "Type": "String"}),
    )
    .unwrap_err();
    assert!(e.message.starts_with("Standard tier"), "{}", e.message);
    let ok = put(
        &mut p,
        json!({"Name": "/n", "Value": big, "Type": "String", "Tier": "Advanced"}),
    )
    .unwrap();
    assert_eq!(ok["Tier"], "Advanced");
    let e = put(
        &mut p,
        json!({"Name": "/n", "Value": "x", "Overwrite": true, "Tags": [{"Key": "a", "Value": "b"}]}),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Validation);
}
