use crate::probe::ProbeError;
use crate::probe::exec::run;
use crate::probe::exec::tests::shell;

#[tokio::test]
async fn stdout_over_the_cap_kills_the_run() {
    let mut s = shell("yes");
    s.max_output_bytes = 1000;
    let e = run(&s).await.unwrap_err();
    assert!(
        matches!(e, ProbeError::OutputTooLarge { limit: 1000, .. }),
        "{e}"
    );
}

#[tokio::test]
async fn stderr_is_cut_and_says_so() {
    let out = run(&shell(
        "head -c 10000 /dev/zero | tr '\\0' x >&2; echo '{}'",
    ))
    .await
    .unwrap();
    assert!(out.stderr.starts_with("xxxx"), "{}", out.stderr);
    assert!(
        out.stderr.ends_with("(5904 more bytes not shown)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn failure_with_empty_stderr_shows_the_head_of_stdout() {
    let e = run(&shell(
        "echo 'Error: could not mark memory executable'; exit 1",
    ))
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "probe `t`: failed with exit status 1; stdout: Error: could not mark memory executable"
    );
    let e = run(&shell("head -c 2000 /dev/zero | tr '\\0' x; exit 1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("; stdout: xxxx"), "{e}");
    assert!(e.ends_with("(1488 more bytes not shown)"), "{e}");
    // With stderr, stdout is not repeated.
    let e = run(&shell("echo out; echo err >&2; exit 1"))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "probe `t`: failed with exit status 1; stderr: err"
    );
}

/// Reads of at most `chunk` bytes, as a pipe gives them.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl tokio::io::AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn reading_keeps_the_cap_and_counts_what_it_drops() {
    use super::{Capped, read_into};
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for chunk in [1, 7, 4096, 65_536, 200_000] {
        // Exactly the cap: all of it, not over.
        let mut into = Capped::default();
        let over = read_into(Trickle { data: &data, chunk }, data.len(), true, &mut into).await;
        assert!(!over, "chunk {chunk}");
        assert_eq!(into.bytes, data, "chunk {chunk}");
        // One byte over a stopping cap: over, with the cap's worth kept.
        let mut into = Capped::default();
        let cap = data.len() - 1;
        let over = read_into(Trickle { data: &data, chunk }, cap, true, &mut into).await;
        assert!(over, "chunk {chunk}");
        assert_eq!(into.bytes, &data[..cap], "chunk {chunk}");
        // A draining cap: the head kept, the rest read to the end and counted.
        let mut into = Capped::default();
        let over = read_into(Trickle { data: &data, chunk }, 1000, false, &mut into).await;
        assert!(over, "chunk {chunk}");
        assert_eq!(into.bytes, &data[..1000], "chunk {chunk}");
        assert_eq!(into.total, data.len(), "chunk {chunk}");
    }
}
