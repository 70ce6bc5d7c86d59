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
