//! Faults: the PostgreSQL server goes away for a while and comes back. A
//! TCP proxy of the test's own stands between the service and the server
//! (the suite's server is shared by every test, so it cannot be stopped):
//! taking it down resets every connection and refuses new ones, as a
//! stopped server does.
//!
//! SQLite's file is put on file systems of the test's own (root only): a
//! small tmpfs that fills up, and an ext4 image that the kernel turns
//! read-only under the running service, as it does when a disk fails.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use avip_db::Backend;
use avip_tests::spawn_app_with;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::referrals::{id, new_referral, referral, territory};

struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accepting, all) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                all.lock().await.push(link);
            }
        });
        Proxy { port, up, links }
    }

    /// The server "stops": every connection is cut, new ones are refused.
    async fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restart(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn postgresql_away_answers_503_loses_nothing_acknowledged_and_recovers_alone() {
    let Ok(server) = std::env::var("AVIP_TEST_DATABASE_URL") else {
        return; // PostgreSQL only (SQLite has no server to lose).
    };
    let server = url::Url::parse(&server).unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        server.host_str().unwrap().replace("localhost", "127.0.0.1"),
        server.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    let app = spawn_app_with(|env| {
        let mut url = url::Url::parse(&env["DATABASE_URL"]).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(proxy.port)).unwrap();
        env.insert("DATABASE_URL".into(), url.to_string());
    })
    .await;
    assert_eq!(app.db.backend, Backend::Postgres);
    let t = territory(&app).await;
    let mut acknowledged = Vec::new();
    for child in ["Yanis", "Lina", "Noah"] {
        acknowledged.push(id(
            &new_referral(&app, &t.prescriber, &t.creche, child).await
        ));
    }

    proxy.down().await;
    let started = Instant::now();
    let read = app
        .call(&t.prescriber, "GET", "/api/v1/referrals", None)
        .await;
    assert_eq!(read.status(), 503, "a read while the database is away");
    let problem: serde_json::Value = read.json().await.unwrap();
    assert_eq!(problem["code"], "database_unavailable");
    let write = app
        .call(
            &t.prescriber,
            "POST",
            "/api/v1/referrals",
            Some(referral(&t.creche, "Ines")),
        )
        .await;
    assert_eq!(write.status(), 503, "a write while the database is away");
    assert_eq!(app.get("/ready").await.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "503s come within the checkout wait"
    );

    // The server is back: the service finds it without a restart.
    proxy.restart();
    let back = Instant::now();
    loop {
        if app.get("/ready").await.status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no recovery in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for referral in &acknowledged {
        app.expect(
            &t.prescriber,
            "GET",
            &format!("/api/v1/referrals/{referral}"),
            None,
            200,
        )
        .await;
    }
    let list = app
        .expect(&t.prescriber, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        3,
        "what was acknowledged is there, and the refused write left nothing"
    );
    new_referral(&app, &t.prescriber, &t.creche, "Ines").await;
}

/// A disk test that cannot mount says so, except in CI (which runs as
/// root), where not running it is a failure.
fn skipped(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}, and CI must run it"
    );
    eprintln!("skipped: {why}");
}

/// A file system mounted for one test (root only: the CI runs as root;
/// elsewhere the test says so and does nothing), unmounted when dropped.
struct Mounted {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l"])
            .arg(&self.path)
            .status();
    }
}

/// A small tmpfs of the test's own.
fn small_disk(megabytes: u32) -> Option<Mounted> {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| Mounted {
        path: dir.path().to_owned(),
        _dir: dir,
    })
}

#[tokio::test]
async fn an_sqlite_file_on_a_full_disk_answers_503_keeps_serving_reads_and_recovers() {
    if std::env::var("AVIP_TEST_DATABASE_URL").is_ok() {
        return; // SQLite only.
    }
    let Some(disk) = small_disk(8) else {
        skipped("mounting a small file system needs root");
        return;
    };
    let file = disk.path.join("avip.db");
    let app = spawn_app_with(|env| {
        env.insert("DATABASE_URL".into(), file.to_string_lossy().into_owned());
    })
    .await;
    let t = territory(&app).await;
    let kept = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);

    // The disk fills up.
    let filler = disk.path.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let mut refused = 0;
    for child in ["Lina", "Noah", "Ines", "Adam", "Sofia", "Jade"] {
        let r = app
            .call(
                &t.prescriber,
                "POST",
                "/api/v1/referrals",
                Some(referral(&t.creche, child)),
            )
            .await;
        let status = r.status().as_u16();
        assert!(status == 201 || status == 503, "{child}: {status}");
        if status == 503 {
            let problem: serde_json::Value = r.json().await.unwrap();
            assert_eq!(problem["code"], "database_unavailable");
            refused += 1;
        }
    }
    assert!(refused > 0, "a full disk refuses writes");
    app.expect(
        &t.prescriber,
        "GET",
        &format!("/api/v1/referrals/{kept}"),
        None,
        200,
    )
    .await;
    std::fs::remove_file(&filler).unwrap();
    new_referral(&app, &t.prescriber, &t.creche, "Emma").await;
}

/// An ext4 image mounted with `errors=remount-ro`, holding a directory
/// whose block was overwritten before mounting. Reading that directory is
/// an error the kernel answers by remounting the whole file system
/// read-only, whoever holds files open on it: the way a database file
/// turns read-only under a running service in real life. (A plain
/// `mount -o remount,ro` is refused while SQLite holds the file open for
/// writing, and root writes through an immutable file's open handle.)
struct FailingDisk(Mounted);

impl FailingDisk {
    fn mount() -> Option<FailingDisk> {
        use std::io::{Seek, SeekFrom, Write};
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        let run = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
        };
        let image_arg = image.to_str().unwrap();
        std::fs::File::create(&image)
            .unwrap()
            .set_len(32 << 20)
            .unwrap();
        run("mkfs.ext4", &["-q", "-b", "4096", image_arg])?;
        run("debugfs", &["-w", "-R", "mkdir trip", image_arg])?;
        let block: u64 =
            String::from_utf8(run("debugfs", &["-R", "bmap trip 0", image_arg])?.stdout)
                .ok()?
                .trim()
                .parse()
                .ok()?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .unwrap();
        file.seek(SeekFrom::Start(block * 4096)).unwrap();
        file.write_all(&[0xA5; 4096]).unwrap();
        drop(file);
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        run(
            "mount",
            &[
                "-o",
                "loop,errors=remount-ro",
                image_arg,
                path.to_str().unwrap(),
            ],
        )?;
        Some(FailingDisk(Mounted { path, _dir: dir }))
    }

    /// The kernel meets the damaged directory and remounts read-only.
    fn fail(&self) {
        let listed = std::fs::read_dir(self.0.path.join("trip"))
            .and_then(|entries| entries.collect::<Result<Vec<_>, _>>());
        assert!(listed.is_err(), "the damaged directory reads as an error");
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        let options = mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == self.0.path.to_str())
            .and_then(|l| l.split(' ').nth(3))
            .unwrap_or_default()
            .to_owned();
        assert!(
            // Newer kernels say `emergency_ro`, older ones `ro`.
            options.split(',').any(|o| o == "ro" || o == "emergency_ro"),
            "the kernel remounted the file system read-only: {options}"
        );
    }
}

#[tokio::test]
async fn an_sqlite_file_turned_read_only_answers_503_and_keeps_serving_reads() {
    if std::env::var("AVIP_TEST_DATABASE_URL").is_ok() {
        return; // SQLite only.
    }
    let Some(disk) = FailingDisk::mount() else {
        skipped("mounting an ext4 image needs root and e2fsprogs");
        return;
    };
    let file = disk.0.path.join("avip.db");
    let app = spawn_app_with(|env| {
        env.insert("DATABASE_URL".into(), file.to_string_lossy().into_owned());
    })
    .await;
    let t = territory(&app).await;
    let kept = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
    let listed_before: serde_json::Value = app
        .expect(&t.prescriber, "GET", "/api/v1/referrals", None, 200)
        .await;

    disk.fail();

    for child in ["Lina", "Noah", "Ines"] {
        let r = app
            .call(
                &t.prescriber,
                "POST",
                "/api/v1/referrals",
                Some(referral(&t.creche, child)),
            )
            .await;
        assert_eq!(r.status(), 503, "{child}");
        let problem: serde_json::Value = r.json().await.unwrap();
        assert_eq!(problem["code"], "database_unavailable", "{problem}");
    }
    let r = app
        .call(
            &t.coordinator,
            "POST",
            &format!("/api/v1/referrals/{kept}/transitions"),
            Some(serde_json::json!({"to": "contacted"})),
        )
        .await;
    assert_eq!(r.status(), 503);

    // Reads go on, and show nothing half-written.
    let read: serde_json::Value = app
        .expect(
            &t.prescriber,
            "GET",
            &format!("/api/v1/referrals/{kept}"),
            None,
            200,
        )
        .await;
    assert_eq!(read["status"], "received");
    let listed_after: serde_json::Value = app
        .expect(&t.prescriber, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(listed_after["items"], listed_before["items"]);
}
