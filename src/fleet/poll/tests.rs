use std::sync::{Arc, Mutex};

use super::*;

/// What the fake answers for one name: a version and its text, or an error.
type Answer = Result<(i64, String), FetchError>;

/// Parameter Store as a map the test rewrites.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<HashMap<String, Answer>>>);

impl Fake {
    fn put(&self, name: &str, version: i64, text: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.into(), Ok((version, text.into())));
    }
    fn fail(&self, name: &str, error: FetchError) {
        self.0.lock().unwrap().insert(name.into(), Err(error));
    }
}

impl ParameterSource for Fake {
    async fn get(&self, name: &str) -> Result<Fetched, FetchError> {
        let answer = self.0.lock().unwrap().get(name).cloned();
        match answer {
            Some(Ok((version, text))) => Ok(Fetched {
                name: name.into(),
                version,
                text,
                parameter_type: "String".into(),
                last_modified: None,
            }),
            Some(Err(e)) => Err(e),
            None => Err(FetchError::NotFound { name: name.into() }),
        }
    }
}

fn probe(name: &str, type_name: &str) -> String {
    format!(
        "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ntype_name = \"{type_name}\"\ncommand = [\"/opt/probes/{name}\"]\n"
    )
}

fn node(local: &str) -> (tempfile::TempDir, PollOptions) {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nstate_dir = \"state\"\nfleet_config = [\"/a\", \"/b\"]\nfleet_exec_dirs = [\"/opt/probes\"]\n{local}"
        ),
    )
    .unwrap();
    let options = PollOptions {
        config_path: config,
        state_dir: tmp.path().join("state"),
        parameters: vec!["/a".into(), "/b".into()],
        interval: Duration::from_secs(1),
        splay: Duration::ZERO,
        clock: Clock::system(),
    };
    (tmp, options)
}

fn version(options: &PollOptions, name: &str) -> Option<i64> {
    store::load(&options.state_dir, name)
        .unwrap()
        .map(|s| s.version)
}

#[tokio::test]
async fn new_versions_are_stored_and_applied_and_broken_ones_refused() {
    let (_tmp, options) = node(&probe("local", "Custom:Local"));
    let fake = Fake::default();
    fake.put("/a", 1, &probe("a", "Custom:A"));
    fake.put("/b", 1, &probe("b", "Custom:B"));
    let mut poller = Poller::new(options.clone());
    let events = poller.poll(&fake).await;
    assert_eq!(
        events,
        vec![
            Event::Apply {
                versions: vec![
                    ParameterVersion {
                        name: "/a".into(),
                        version: 1
                    },
                    ParameterVersion {
                        name: "/b".into(),
                        version: 1
                    },
                ]
            },
            Event::Problems(BTreeMap::new()),
        ]
    );
    // Nothing new: nothing to say.
    assert_eq!(poller.poll(&fake).await, Vec::new());

    // /a breaks (a TypeName the local probe has), /b moves on: /b is applied alone.
    fake.put("/a", 2, &probe("a", "Custom:Local"));
    fake.put("/b", 2, &probe("b2", "Custom:B2"));
    let events = poller.poll(&fake).await;
    let Event::Apply { versions } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(
        versions,
        &vec![ParameterVersion {
            name: "/b".into(),
            version: 2
        }]
    );
    let Event::Problems(problems) = &events[1] else {
        panic!("{events:?}");
    };
    let why = &problems["/a"];
    assert!(
        why.starts_with("parameter /a version 2 refused (version 1 keeps running): parameter /a version 2, line 4: key `type_name`: TypeName `Custom:Local` is already claimed by probe \"local\" at "),
        "{why}"
    );
    assert_eq!(version(&options, "/a"), Some(1));
    assert_eq!(version(&options, "/b"), Some(2));
    let refused = store::load_refusal(&options.state_dir, "/a")
        .unwrap()
        .unwrap();
    assert_eq!(refused.version, 2);

    // The same refusal is not reported again; a fixed version clears it.
    assert_eq!(poller.poll(&fake).await, Vec::new());
    fake.put("/a", 3, &probe("a", "Custom:A3"));
    let events = poller.poll(&fake).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1], Event::Problems(BTreeMap::new()));
    assert_eq!(version(&options, "/a"), Some(3));
    assert_eq!(store::load_refusal(&options.state_dir, "/a").unwrap(), None);
}

#[tokio::test]
async fn fetch_failures_are_problems_and_keep_the_last_good_version() {
    let (_tmp, options) = node("");
    let fake = Fake::default();
    fake.put("/a", 1, &probe("a", "Custom:A"));
    fake.put("/b", 1, "# nothing yet\n");
    let mut poller = Poller::new(options.clone());
    poller.poll(&fake).await;
    fake.fail(
        "/a",
        FetchError::AccessDenied {
            name: "/a".into(),
            code: "AccessDeniedException".into(),
            message: "not authorized to perform: ssm:GetParameter".into(),
        },
    );
    let events = poller.poll(&fake).await;
    let [Event::Problems(problems)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert!(problems["/a"].contains("needs ssm:GetParameter on /a"));
    assert_eq!(version(&options, "/a"), Some(1));
    let settings = crate::config::load_with_fleet(
        &options.config_path,
        &store::sources(&options.state_dir, &options.parameters),
    )
    .unwrap();
    assert!(settings.probe("a").is_some());
}

#[tokio::test]
async fn the_task_polls_every_interval_once_connected_and_stops_when_cancelled() {
    let (_tmp, mut options) = node("");
    options.interval = Duration::from_millis(100);
    let fake = Fake::default();
    fake.put("/a", 1, &probe("a", "Custom:A"));
    fake.put("/b", 1, "# none\n");
    let (connect, connection) = watch::channel(None);
    let (tx, mut events) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(options.clone(), connection, tx, cancel.clone()));
    // Not connected yet: nothing is fetched.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(events.try_recv().is_err());
    connect.send_replace(Some(Connection {
        source: fake.clone(),
        instance_id: "i-0123456789abcdef0".into(),
    }));
    let first = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap();
    assert!(matches!(first, Some(Event::Apply { .. })), "{first:?}");
    fake.put("/a", 2, &probe("a", "Custom:A2"));
    let mut applied = false;
    while !applied {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap();
        applied = matches!(&event, Some(Event::Apply { versions }) if versions[0].version == 2);
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
