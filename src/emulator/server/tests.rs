use super::*;

#[test]
fn request_ids_look_like_uuids() {
    for _ in 0..100 {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        let parts: Vec<_> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }
}
