//! A TCP proxy that cuts connections after N response bytes: the transfer still completes
//! across retries, and an acknowledged batch is never sent again.

use std::sync::{Arc, Mutex};

use farmco_e2e::{Cloud, Edge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Forward to `upstream`; for the first `cuts` connections, drop the connection after relaying
/// `cut_after` bytes of the response. Records each request's envelope sequence number.
async fn cutting_proxy(
    upstream: String,
    cuts: usize,
    cut_after: usize,
    seen: Arc<Mutex<Vec<(u64, bool)>>>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut client, _)) = listener.accept().await {
            n += 1;
            let cut = n <= cuts;
            let upstream = upstream.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut server = TcpStream::connect(upstream.trim_start_matches("http://"))
                    .await
                    .unwrap();
                // Read the whole request (headers + body by content-length).
                let mut req = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    let k = client.read(&mut buf).await.unwrap_or(0);
                    if k == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..k]);
                    if let Some(end) = find(&req, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            let body = &req[end + 4..];
                            // Envelope seq: after magic(4) version(1) kind(1) sender(32) recipient(32).
                            if body.len() >= 78 && &body[..4] == b"FCSE" {
                                let seq = u64::from_be_bytes(body[70..78].try_into().unwrap());
                                seen.lock().unwrap().push((seq, cut));
                            }
                            break;
                        }
                    }
                }
                server.write_all(&req).await.unwrap();
                let mut relayed = 0usize;
                loop {
                    let k = server.read(&mut buf).await.unwrap_or(0);
                    if k == 0 {
                        break;
                    }
                    let take = if cut {
                        k.min(cut_after.saturating_sub(relayed))
                    } else {
                        k
                    };
                    if take > 0 && client.write_all(&buf[..take]).await.is_err() {
                        break;
                    }
                    relayed += take;
                    if cut && relayed >= cut_after {
                        break; // drop both connections mid-response
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_resume_without_resending_acknowledged_batches() {
    let cloud = Cloud::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = cutting_proxy(cloud.server.base_url.clone(), 3, 60, seen.clone()).await;
    let edge = Edge::new();
    edge.enroll(&cloud, "563412");
    // 40 farmers with farms and soil tests: more than one 32 KiB batch.
    let (ok, out, err) = edge.cli(&["seed-demo", "--farmers", "40"], "");
    assert!(ok, "{out}{err}");
    let mut tries = 0;
    let summary = loop {
        tries += 1;
        let (ok, out, _err) = edge.cli(&["sync", "--once", "--cloud", &proxy], "");
        if ok {
            break out;
        }
        assert!(tries < 20, "sync never completed");
    };
    assert!(summary.starts_with("sync ok:"), "{summary}");
    // Every sequence number was sent again only when its previous attempt was cut.
    let seen = seen.lock().unwrap().clone();
    for w in seen.windows(2) {
        let ((s0, cut0), (s1, _)) = (w[0], w[1]);
        assert!(s1 >= s0, "sequence went backwards: {seen:?}");
        if s1 == s0 {
            assert!(
                cut0,
                "seq {s0} resent although its answer arrived: {seen:?}"
            );
        }
    }
    assert!(seen.iter().filter(|(_, cut)| *cut).count() == 3, "{seen:?}");
    // The cloud has all 40 farmers.
    let t = cloud.login().await;
    let (_, list) = farmco_e2e::call(
        "GET",
        &format!(
            "{}/api/v1/farmers?village_code=563412&limit=200",
            cloud.server.base_url
        ),
        &t,
        None,
    )
    .await;
    assert_eq!(list["farmers"].as_array().unwrap().len(), 40, "{list}");
}
