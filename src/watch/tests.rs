use notify::event::{CreateKind, ModifyKind, RenameMode};

use super::*;
use crate::probe::files::is_document_name;

fn event(kind: EventKind, paths: &[&str]) -> notify::Result<Event> {
    let mut e = Event::new(kind);
    for p in paths {
        e = e.add_path(PathBuf::from(p));
    }
    Ok(e)
}

#[test]
fn only_changes_to_documents_count() {
    let folder = Path::new("/f");
    let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
    assert!(!relevant(
        folder,
        &event(open, &["/f/a.json"]),
        is_document_name
    ));
    assert!(!relevant(folder, &event(open, &["/f"]), is_document_name));
    let written = EventKind::Access(AccessKind::Close(AccessMode::Write));
    assert!(relevant(
        folder,
        &event(written, &["/f/a.json"]),
        is_document_name
    ));
    let create = EventKind::Create(CreateKind::File);
    assert!(relevant(
        folder,
        &event(create, &["/f/a.json"]),
        is_document_name
    ));
    assert!(!relevant(
        folder,
        &event(create, &["/f/.a.json.tmp"]),
        is_document_name
    ));
    assert!(!relevant(
        folder,
        &event(create, &["/f/notes.txt"]),
        is_document_name
    ));
    let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
    assert!(relevant(
        folder,
        &event(rename, &["/f/.a.json.tmp", "/f/a.json"]),
        is_document_name
    ));
    assert!(relevant(
        folder,
        &event(EventKind::Any, &[]),
        is_document_name
    ));
    assert!(relevant(
        folder,
        &Err(notify::Error::generic("overflow")),
        is_document_name
    ));
}

/// Watches share one thread and one inotify instance: each gets the changes of its own
/// folder only, two watches of one folder both get them, and one dropped leaves the other
/// armed.
mod shared {
    use std::fs;
    use std::time::Duration;

    use super::*;

    /// Hang-catcher: the changes arrive in milliseconds.
    const WITHIN: Duration = Duration::from_secs(5);
    /// Long enough for a change to have arrived, and for a folder check to have passed.
    const SILENCE: Duration = Duration::from_millis(1500);

    async fn fires(rx: &mut mpsc::Receiver<()>) -> bool {
        tokio::time::timeout(WITHIN, rx.recv())
            .await
            .is_ok_and(|m| m.is_some())
    }

    async fn silent(rx: &mut mpsc::Receiver<()>) -> bool {
        tokio::time::timeout(SILENCE, rx.recv()).await.is_err()
    }

    /// Takes what is still arriving: one write is several events, which may come in more
    /// than one read of inotify's queue and so in more than one message.
    async fn settle(rx: &mut mpsc::Receiver<()>) {
        while !silent(rx).await {}
    }

    #[tokio::test]
    async fn each_watch_hears_its_own_folder_and_a_shared_folder_stays_armed() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        let mut on_a = watch(&a, is_document_name).unwrap();
        let mut on_b = watch(&b, is_document_name).unwrap();
        let mut on_b_too = watch(&b, is_document_name).unwrap();

        fs::write(a.join("x.json"), "{}").unwrap();
        assert!(fires(&mut on_a).await, "a's watch missed a's change");
        settle(&mut on_a).await;
        assert!(silent(&mut on_b).await, "b's watch fired for a's change");
        assert!(
            silent(&mut on_b_too).await,
            "b's watch fired for a's change"
        );

        fs::write(b.join("y.json"), "{}").unwrap();
        assert!(fires(&mut on_b).await, "b's first watch missed b's change");
        assert!(
            fires(&mut on_b_too).await,
            "b's second watch missed b's change"
        );
        assert!(silent(&mut on_a).await, "a's watch fired for b's change");

        // One of b's watches goes; its folder check passes; the other still hears b.
        drop(on_b);
        settle(&mut on_b_too).await;
        fs::write(b.join("z.json"), "{}").unwrap();
        assert!(
            fires(&mut on_b_too).await,
            "dropping one watch of b disarmed the other"
        );
    }

    #[tokio::test]
    async fn a_replaced_folder_is_watched_anew() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("f");
        fs::create_dir(&folder).unwrap();
        let mut rx = watch(&folder, is_document_name).unwrap();
        fs::rename(&folder, tmp.path().join("old")).unwrap();
        fs::create_dir(&folder).unwrap();
        assert!(
            fires(&mut rx).await,
            "the folder's replacement went unnoticed"
        );
        settle(&mut rx).await;
        fs::write(folder.join("x.json"), "{}").unwrap();
        assert!(
            fires(&mut rx).await,
            "a change in the new folder went unnoticed"
        );
        settle(&mut rx).await;
        fs::write(tmp.path().join("old/y.json"), "{}").unwrap();
        assert!(silent(&mut rx).await, "the old folder is still watched");
    }
}
