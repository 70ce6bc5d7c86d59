use std::sync::{Arc, Mutex};

use super::*;

/// What the fake answers for one name: a version and its text, or an error.
type Answer = Result<(i64, String), FetchError>;

/// Parameter Store as a map the test rewrites; it counts the calls and their sizes.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<HashMap<String, Answer>>>, Arc<Mutex<Vec<usize>>>);

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
    async fn get_batch(&self, names: &[String]) -> Vec<Result<Fetched, FetchError>> {
        self.1.lock().unwrap().push(names.len());
        let map = self.0.lock().unwrap();
        names
            .iter()
            .map(|name| match map.get(name).cloned() {
                Some(Ok((version, text))) => Ok(Fetched {
                    name: name.clone(),
                    version,
                    text,
                    parameter_type: "String".into(),
                    last_modified: None,
                }),
                Some(Err(e)) => Err(e),
                None => Err(FetchError::NotFound { name: name.clone() }),
            })
            .collect()
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
                ],
                unstored: Vec::new(),
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
    let Event::Apply { versions, .. } = &events[0] else {
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
async fn a_version_the_store_refuses_is_applied_from_memory_once() {
    let (_tmp, options) = node("");
    // A file where the store's folder goes: every write fails, as on a read-only disk.
    std::fs::create_dir_all(&options.state_dir).unwrap();
    std::fs::write(store::dir(&options.state_dir), "not a folder").unwrap();
    let fake = Fake::default();
    fake.put("/a", 1, &probe("a", "Custom:A"));
    fake.put("/b", 1, "# nothing yet\n");
    let mut poller = Poller::new(options.clone());
    let events = poller.poll(&fake).await;
    let Some(Event::Apply { versions, unstored }) = events.first() else {
        panic!("{events:?}");
    };
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(unstored.len(), 2, "{unstored:?}");
    assert_eq!(unstored[0].version.name, "/a");
    assert!(
        unstored[0].error.starts_with("the fleet store ")
            && unstored[0].error.contains("cannot be written"),
        "{}",
        unstored[0].error
    );
    // Held in memory, the versions count as decided: nothing new at the next poll.
    let events = poller.poll(&fake).await;
    assert!(
        !events.iter().any(|e| matches!(e, Event::Apply { .. })),
        "{events:?}"
    );
    // Writable again: a newer version is stored and applied, and the held one let go.
    std::fs::remove_file(store::dir(&options.state_dir)).unwrap();
    fake.put("/a", 2, &probe("a2", "Custom:A2"));
    let events = poller.poll(&fake).await;
    let Some(Event::Apply { versions, unstored }) = events.first() else {
        panic!("{events:?}");
    };
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(unstored.is_empty(), "{unstored:?}");
    assert_eq!(version(&options, "/a"), Some(2));
    assert_eq!(
        poller.held.len(),
        1,
        "/b stays held until the daemon writes it"
    );
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
            message: "not authorized to perform: ssm:GetParameters".into(),
        },
    );
    let events = poller.poll(&fake).await;
    let [Event::Problems(problems)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert!(problems["/a"].contains("needs ssm:GetParameters on /a"));
    assert!(!poller.was_busy());
    fake.fail(
        "/b",
        FetchError::Busy {
            name: "/b".into(),
            detail: "ThrottlingException: Rate exceeded".into(),
        },
    );
    poller.poll(&fake).await;
    assert!(poller.was_busy());
    assert_eq!(version(&options, "/a"), Some(1));
    let settings = crate::config::load_with_fleet(
        &options.config_path,
        &store::sources(&options.state_dir, &options.parameters),
    )
    .unwrap();
    assert!(settings.probe("a").is_some());
}

#[tokio::test]
async fn a_poll_is_one_call_per_ten_parameters() {
    let (_tmp, mut options) = node("");
    options.parameters = (0..11).map(|i| format!("/p{i}")).collect();
    let fake = Fake::default();
    let mut poller = Poller::new(options);
    poller.poll(&fake).await;
    assert_eq!(*fake.1.lock().unwrap(), vec![10, 1]);
    // Every missing one is reported by name, as before.
    let problems = poller.problems.clone().unwrap();
    assert_eq!(problems.len(), 11);
    assert_eq!(
        problems["/p10"],
        "parameter /p10: not found (ParameterNotFound); create it, or remove it from `[agent] fleet_config`"
    );
}

/// A source that answers `busy` for its first calls, then like [`Fake`], noting when it
/// was called.
#[derive(Clone)]
struct Throttling {
    inner: Fake,
    busy_calls: Arc<Mutex<u32>>,
    calls: Arc<Mutex<Vec<tokio::time::Instant>>>,
}

impl ParameterSource for Throttling {
    async fn get_batch(&self, names: &[String]) -> Vec<Result<Fetched, FetchError>> {
        self.calls.lock().unwrap().push(tokio::time::Instant::now());
        let busy = {
            let mut left = self.busy_calls.lock().unwrap();
            let busy = *left > 0;
            *left = left.saturating_sub(1);
            busy
        };
        if busy {
            return names
                .iter()
                .map(|name| {
                    Err(FetchError::Busy {
                        name: name.clone(),
                        detail: "ThrottlingException: Rate exceeded".into(),
                    })
                })
                .collect();
        }
        self.inner.get_batch(names).await
    }
}

#[tokio::test(start_paused = true)]
async fn throttled_polls_wait_longer_and_polls_that_go_through_come_back() {
    let (_tmp, mut options) = node("");
    options.interval = Duration::from_secs(10);
    let fake = Fake::default();
    fake.put("/a", 1, "# none\n");
    fake.put("/b", 1, "# none\n");
    let source = Throttling {
        inner: fake,
        busy_calls: Arc::new(Mutex::new(2)),
        calls: Arc::default(),
    };
    let (connect, connection) = watch::channel(Some(Connection {
        source: source.clone(),
        instance_id: "i-0123456789abcdef0".into(),
    }));
    let (tx, mut events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let (_ask, requests) = mpsc::channel(1);
    let task = tokio::spawn(run(options, connection, tx, requests, cancel.clone()));
    // Deciding runs on the blocking pool, which the paused clock does not wait for: let
    // virtual time pass in small steps so every poll is seen when it happens.
    let start = tokio::time::Instant::now();
    while source.calls.lock().unwrap().len() < 8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        while events.try_recv().is_ok() {}
        assert!(start.elapsed() < Duration::from_secs(3600), "too slow");
    }
    cancel.cancel();
    task.await.unwrap();
    drop(connect);
    let calls = source.calls.lock().unwrap().clone();
    let gaps: Vec<f64> = calls
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    // Two throttled polls: 20 s (from 15), then 40 s (from 25); then back by a quarter a
    // poll that went through: 30 s, 22.5 s, 16.9 s, 12.7 s, then the configured 10 s (each
    // in the upper half of its lengthened part), never under it.
    let bounds = [
        (15.0, 20.0),
        (25.0, 40.0),
        (20.0, 30.0),
        (16.25, 22.5),
        (13.4, 16.9),
        (11.3, 12.7),
        (10.0, 10.0),
    ];
    assert_eq!(gaps.len(), bounds.len(), "{gaps:?}");
    for (gap, (low, high)) in gaps.iter().zip(bounds) {
        assert!(
            *gap >= low - 0.01 && *gap <= high + 0.2,
            "{gap} not in [{low}, {high}]: {gaps:?}"
        );
    }
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
    let (_ask, requests) = mpsc::channel(1);
    let task = tokio::spawn(run(
        options.clone(),
        connection,
        tx,
        requests,
        cancel.clone(),
    ));
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
        applied = matches!(&event, Some(Event::Apply { versions, .. }) if versions[0].version == 2);
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
