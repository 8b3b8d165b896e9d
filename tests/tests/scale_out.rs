//! The scaled-out topology (docs/deployment.md): two replicas on PostgreSQL +
//! Redis behind nginx behave as one server, survive an outage of either
//! store and the loss of a replica without losing a session or a refresh
//! token, drain on SIGTERM, and never log a secret. Every other end-to-end
//! test also runs on this topology (the `cluster` variant of
//! `on_both_backends!`).

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

const BYE: &str = "https://app.example/bye";

async fn cluster(env: &[(&str, &str)]) -> Option<Env> {
    if !cluster_available() {
        return None;
    }
    let db = TestDb::new(Backend::Cluster).await;
    let server = Server::start(&db, env).await;
    let alice = create_alice(&db);
    Some(Env { db, server, alice })
}

/// A browser talking to replica `i` directly (cookies are per host, not per
/// port, so browsers on different replicas of one test share nothing but
/// what the servers share).
fn browser_at(server: &Server, i: usize) -> Browser {
    let mut b = Browser::new(server);
    b.issuer = server.replicas[i].clone();
    b
}

async fn token_at(server: &Server, i: usize, client: &TestClient, form: &Params) -> Page {
    token(&server.view(i), auth_of(client), form).await
}

/// `prompt=none` authorization: a code if the session is alive.
async fn silent_code(b: &Browser, client: &TestClient) -> Page {
    let p = pkce();
    b.authorize(&code_request(&client.id, &p).set("scope", "openid").set("prompt", "none")).await
}

fn has_code(page: &Page) -> bool {
    page.location().is_some_and(|l| query_pairs(&l).iter().any(|(k, _)| k == "code"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_from_one_replica_is_redeemed_at_the_other() {
    let Some(Env { db, server, alice }) = cluster(&[]).await else { return };
    let client = confidential(&db);
    let b = browser_at(&server, 0);
    let p = pkce();
    let code = code_for(&b, &code_request(&client.id, &p).set("scope", "openid"), &alice).await;
    let res = token_at(&server, 1, &client, &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let again = token_at(&server, 0, &client, &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(again.status, 400, "the code is spent on every replica: {}", again.describe());
    assert_eq!(again.json()["error"], "invalid_grant");
    // The session made at replica 0 is known to replica 1.
    let at1 = Browser { http: b.http.clone(), jar: b.jar.clone(), issuer: server.replicas[1].clone() };
    assert!(has_code(&silent_code(&at1, &client).await), "the session is shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_at_one_replica_ends_the_session_everywhere() {
    let Some(Env { db, server, alice }) = cluster(&[]).await else { return };
    let client = offline_client(&db, "RP", &["--post-logout-redirect-uri", BYE]);
    let at0 = browser_at(&server, 0);
    let t = tokens_for(&server, &at0, &client, &alice, "openid").await;
    let at1 = Browser { http: at0.http.clone(), jar: at0.jar.clone(), issuer: server.replicas[1].clone() };
    assert!(has_code(&silent_code(&at1, &client).await), "signed in at replica 1 too");
    let params = Params::new().set("id_token_hint", str_of(&t, "id_token")).set("post_logout_redirect_uri", BYE);
    let cookie = at0.cookie("latchkey_session").expect("session cookie");
    let page = at0.get(&format!("{}/logout?{}", server.replicas[0], params.encode())).await;
    assert_eq!(page.status, 303, "{}", page.describe());
    // Logout cleared the cookie; put it back to prove that the server-side
    // session is gone, not just the cookie.
    at1.set_cookie("latchkey_session", &cookie);
    let gone = silent_code(&at1, &client).await;
    assert!(!has_code(&gone), "replica 1 no longer knows the session: {}", gone.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refresh_across_replicas_has_exactly_one_winner() {
    let Some(Env { db, server, alice }) = cluster(&[]).await else { return };
    let client = offline_client(&db, "RP", &[]);
    let t = tokens_for(&server, &Browser::new(&server), &client, &alice, OFFLINE_SCOPES).await;
    let rt = str_of(&t, "refresh_token").to_string();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (server_view, client, rt) = (server.view(i % 2), client.clone(), rt.clone());
        tasks.push(tokio::spawn(async move { refresh(&server_view, auth_of(&client), &rt, None).await }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let page = t.await.unwrap();
        match page.status.as_u16() {
            200 => winners.push(page.json()),
            400 => assert_eq!(page.json()["error"], "invalid_grant"),
            other => panic!("only 200 or invalid_grant, got {other}: {}", page.describe()),
        }
    }
    assert_eq!(winners.len(), 1, "one winner across replicas");
    let successor = str_of(&winners[0], "refresh_token");
    assert!(
        eventually(Duration::from_secs(2), || async {
            refresh(&server, auth_of(&client), successor, None).await.status == 400
        })
        .await,
        "the reuse revoked the family, the winner's successor included"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_client_stops_working_on_every_replica_at_once() {
    let Some(Env { db, server, .. }) = cluster(&[]).await else { return };
    let rs = resource_server(&db);
    let form = Params::new().set("grant_type", "client_credentials").set("scope", "api:read");
    for i in 0..2 {
        assert_eq!(token_at(&server, i, &rs, &form).await.status, 200);
    }
    cli(&db, &["client", "delete", &rs.id], &[], None).ok();
    for i in 0..2 {
        let res = token_at(&server, i, &rs, &form).await;
        assert_eq!(res.status, 401, "replica {i}: no cache keeps a deleted client alive: {}", res.describe());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_reaches_every_replica_within_the_refresh_interval() {
    let Some(Env { db, server, .. }) = cluster(&[("LATCHKEY_KEYS_REFRESH_INTERVAL_SECONDS", "1")]).await else {
        return;
    };
    let keys = cli_json(&db, &["keys", "list"]);
    let next =
        keys.as_array().unwrap().iter().find(|k| k["state"] == "next").unwrap()["kid"].as_str().unwrap().to_string();
    cli(&db, &["keys", "rotate", "--force"], &[], None).ok();
    let started = Instant::now();
    let rs = resource_server(&db);
    let form = Params::new().set("grant_type", "client_credentials").set("scope", "api:read");
    for i in 0..2 {
        let (server, rs, form, next) = (&server, &rs, &form, &next);
        assert!(
            eventually(Duration::from_secs(3), || async move {
                let res = token_at(server, i, rs, form).await;
                res.status == 200 && jwt_parts(str_of(&res.json(), "access_token")).0["kid"] == next.as_str()
            })
            .await,
            "replica {i} signs with the new key"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the 1 s interval plus polling and load: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Outages and crashes under load.

/// Status counts of one kind of request, before, during and after an event,
/// and how long each 503 took to arrive.
#[derive(Default, Debug)]
struct Tally(BTreeMap<(&'static str, &'static str, u16), u32>, Vec<(&'static str, Duration)>);

impl Tally {
    fn add(&mut self, phase: &'static str, what: &'static str, status: u16) {
        *self.0.entry((phase, what, status)).or_default() += 1;
    }
    /// Counts an answer in the phase it arrived in; times a 503 in the
    /// phase its request was sent in.
    fn timed(&mut self, phase: &'static str, what: &'static str, status: u16, sent: (&'static str, Instant)) {
        self.add(phase, what, status);
        if status == 503 || sent.0 == "before" {
            self.1.push((sent.0, sent.1.elapsed()));
        }
    }
    /// The median and the slowest 503 of `phase`.
    fn unavailable_times(&self, phase: &str) -> Option<(Duration, Duration)> {
        let mut times: Vec<Duration> = self.1.iter().filter(|(p, _)| *p == phase).map(|(_, t)| *t).collect();
        times.sort();
        Some((*times.get(times.len() / 2)?, *times.last()?))
    }
    fn statuses(&self, phase: &str) -> Vec<u16> {
        self.0.keys().filter(|(p, _, _)| *p == phase).map(|(_, _, s)| *s).collect()
    }
    fn count(&self, phase: &str, status: u16) -> u32 {
        self.0.iter().filter(|((p, _, s), _)| *p == phase && *s == status).map(|(_, n)| n).sum()
    }
}

/// One person with a session and a refresh token, used by a load worker.
struct Person {
    browser: Browser,
    refresh_token: String,
    access_token: String,
}

async fn people(server: &Server, db: &TestDb, client: &TestClient, n: usize) -> Vec<Person> {
    let mut out = Vec::new();
    for i in 0..n {
        let user = create_user(db, &format!("user{i}"), PASSWORD, &[]);
        let browser = Browser::new(server);
        let t = tokens_for(server, &browser, client, &user, OFFLINE_SCOPES).await;
        out.push(Person {
            browser,
            refresh_token: str_of(&t, "refresh_token").into(),
            access_token: str_of(&t, "access_token").into(),
        });
    }
    out
}

/// Runs every person's loop (refresh, UserInfo, a silent authorization)
/// until `stop`; `phase` says what is going on. A refresh answered by
/// anything but 200 leaves the person's refresh token as it was: the client
/// retries with it, as a real one would.
async fn load(
    server: &Server,
    client: &TestClient,
    people: Vec<Person>,
    phase: Arc<Mutex<&'static str>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Vec<Person>, Tally) {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    for mut person in people {
        let (server, client) = (server.view(usize::MAX), client.clone());
        let (phase, stop, tally) = (phase.clone(), stop.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let sent = (*phase.lock().unwrap(), Instant::now());
                let res = refresh(&server, auth_of(&client), &person.refresh_token, None).await;
                let now = *phase.lock().unwrap();
                tally.lock().unwrap().timed(now, "refresh", res.status.as_u16(), sent);
                if res.status == 200 {
                    let t = res.json();
                    person.refresh_token = str_of(&t, "refresh_token").into();
                    person.access_token = str_of(&t, "access_token").into();
                } else if res.status == 503 {
                    let body = res.json();
                    assert_eq!(body["error"], "temporarily_unavailable", "a JSON OAuth error: {body}");
                }
                let sent = (*phase.lock().unwrap(), Instant::now());
                let status = userinfo_status(&server, &person.access_token).await;
                tally.lock().unwrap().timed(*phase.lock().unwrap(), "userinfo", status, sent);
                let sent = (*phase.lock().unwrap(), Instant::now());
                let page = silent_code(&person.browser, &client).await;
                let status = if has_code(&page) { 200 } else { page.status.as_u16() };
                if page.status == 503 {
                    assert!(
                        page.body.contains("<html") || page.body.contains("<!DOCTYPE"),
                        "a page: {}",
                        page.describe()
                    );
                }
                tally.lock().unwrap().timed(*phase.lock().unwrap(), "authorize", status, sent);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            person
        }));
    }
    let mut people = Vec::new();
    for t in tasks {
        people.push(t.await.unwrap());
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    (people, tally)
}

/// After the event: every person's refresh token and session still work.
async fn nothing_lost(server: &Server, client: &TestClient, people: &[Person]) {
    for (i, p) in people.iter().enumerate() {
        let res = refresh(server, auth_of(client), &p.refresh_token, None).await;
        assert_eq!(res.status, 200, "person {i}: the refresh token survived: {}", res.describe());
        assert!(has_code(&silent_code(&p.browser, client).await), "person {i}: the session survived");
    }
}

/// Runs load for `before`, calls `event` (which returns when the outage is
/// over), then load for `after`; checks that only 503 ever failed, that
/// the outage was seen, and that nothing was lost.
async fn under_load<F, Fut>(server: &Server, db: &TestDb, event: F) -> Tally
where
    F: FnOnce(Arc<Mutex<&'static str>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let client = offline_client(db, "Loaded RP", &[]);
    let crowd = people(server, db, &client, 4).await;
    let phase = Arc::new(Mutex::new("before"));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = {
        let (server, client, phase, stop) = (server.view(usize::MAX), client.clone(), phase.clone(), stop.clone());
        tokio::spawn(async move { load(&server, &client, crowd, phase, stop).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    event(phase.clone()).await;
    *phase.lock().unwrap() = "after";
    // Clients back off after errors; give the servers a moment, then measure.
    tokio::time::sleep(Duration::from_secs(3)).await;
    *phase.lock().unwrap() = "settled";
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (crowd, tally) = loader.await.unwrap();
    eprintln!("{:?}", tally.0);
    for phase in ["before", "during", "down", "after", "settled"] {
        for s in tally.statuses(phase) {
            assert!(s == 200 || s == 503, "{phase}: only 200 and 503, never {s}: {tally:?}");
        }
    }
    assert_eq!(tally.count("before", 503), 0, "all well before: {tally:?}");
    assert_eq!(tally.count("settled", 503), 0, "full service after recovery: {tally:?}");
    assert!(tally.count("settled", 200) > 0, "{tally:?}");
    nothing_lost(server, &client, &crowd).await;
    tally
}

/// The event of an outage test: `stop` a store for `down`, checking that
/// `/readyz` fails meanwhile, then `start` it and wait until `/readyz`
/// passes again, without restarting anything else.
async fn outage(
    phase: Arc<Mutex<&'static str>>,
    server: Server,
    down: Duration,
    stop: impl FnOnce(),
    start: impl FnOnce(),
) {
    let ready = || async { http().get(server.url("/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) };
    *phase.lock().unwrap() = "during";
    stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ready().await, 503, "/readyz fails while the store is down");
    // Known to be down from here: requests that need the store fail fast.
    *phase.lock().unwrap() = "down";
    tokio::time::sleep(down - Duration::from_secs(1)).await;
    start();
    let started = Instant::now();
    assert!(eventually(Duration::from_secs(10), || async { ready().await == 200 }).await, "/readyz recovers");
    eprintln!("outage: /readyz 200 again {} ms after the store came back", started.elapsed().as_millis());
}

/// A Redis server of this test's own (so it can be stopped), persisting
/// every write (appendfsync always) so that a restart loses nothing.
struct OwnRedis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(dir: &Path) -> Self {
        let mut r = OwnRedis { port: free_port(), dir: dir.join("redis"), child: None };
        std::fs::create_dir_all(&r.dir).unwrap();
        r.run();
        r
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM: Redis flushes its append-only file and exits.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_for_ten_seconds_under_load_only_503s_and_nothing_lost() {
    if !cluster_available() {
        return;
    }
    let mut db = TestDb::new(Backend::Cluster).await;
    let redis = Arc::new(Mutex::new(OwnRedis::start(db.dir.path())));
    db.redis = Some((redis.lock().unwrap().url(), "outage:".into()));
    // A command timeout long enough to tell waiting for it from failing fast.
    let mut server = Server::start(&db, &[("LATCHKEY_REDIS_TIMEOUT_MS", "3000")]).await;
    let r = redis.clone();
    let srv = server.view(usize::MAX);
    let tally = under_load(&server, &db, move |phase| {
        let r2 = r.clone();
        outage(phase, srv, Duration::from_secs(10), move || r.lock().unwrap().stop(), move || r2.lock().unwrap().run())
    })
    .await;
    assert!(tally.count("down", 503) > 0, "the outage was felt: {tally:?}");
    fails_fast(&tally, Duration::from_secs(3));
    assert!(!server.log().contains("panicked"), "no panic:\n{}", tail(&server.log(), 40));
    server.terminate();
}

/// Once the outage is known (the store's probe failed), a request that
/// needs the store gets its 503 at once, not after `timeout` (the pool's or
/// the command's, which it would otherwise wait for). On a machine as busy
/// as a test run, "at once" means about as fast as an ordinary answer
/// (tests/tests/faults.rs measures it alone: a few milliseconds).
fn fails_fast(tally: &Tally, timeout: Duration) {
    let (median, slowest) = tally.unavailable_times("down").expect("503s while the store was known down");
    let (usual, _) = tally.unavailable_times("before").expect("answers before the outage");
    eprintln!(
        "outage: 503 while known down: median {} ms, slowest {} ms (any answer before the outage: median {} ms)",
        median.as_millis(),
        slowest.as_millis(),
        usual.as_millis()
    );
    assert!(median <= 2 * usual + Duration::from_millis(100), "503 at once: median {median:?}, usually {usual:?}");
    assert!(slowest < timeout, "no request waits for the {timeout:?} timeout: slowest {slowest:?}");
}

/// Whether the Redis on `port` answers `PING` (not `-LOADING`): it is back.
fn redis_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 64];
    s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

/// Starts `redis` again and returns once it answers `PING`.
fn start_redis_again(redis: &mut OwnRedis) {
    redis.run();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !redis_answers(redis.port) {
        assert!(Instant::now() < deadline, "Redis answers PING after its restart");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_request_after_a_redis_restart_succeeds_on_every_replica() {
    if !cluster_available() {
        return;
    }
    let mut db = TestDb::new(Backend::Cluster).await;
    let mut redis = OwnRedis::start(db.dir.path());
    db.redis = Some((redis.url(), "restart:".into()));
    let mut server = Server::start(&db, &[("LATCHKEY_REDIS_TIMEOUT_MS", "500")]).await;
    let alice = create_alice(&db);
    let client = offline_client(&db, "RP", &[]);
    let at0 = browser_at(&server, 0);
    let t = tokens_for(&server, &at0, &client, &alice, OFFLINE_SCOPES).await;
    let access_token = str_of(&t, "access_token").to_string();
    // One browser (one session) talking to each replica directly.
    let at: Vec<Browser> = (0..2)
        .map(|i| Browser { http: at0.http.clone(), jar: at0.jar.clone(), issuer: server.replicas[i].clone() })
        .collect();
    for (i, b) in at.iter().enumerate() {
        assert!(has_code(&silent_code(b, &client).await), "replica {i} uses Redis before the restart");
    }

    // A restart no request saw: every replica's connection is dead. The
    // first request of each needs its session from Redis.
    redis.stop();
    start_redis_again(&mut redis);
    for (i, b) in at.iter().enumerate() {
        let page = silent_code(b, &client).await;
        assert!(has_code(&page), "replica {i}: the first request after the restart succeeds: {}", page.describe());
    }

    // Requests during the outage fail (and so do the reconnects they start);
    // the first one after Redis answers again succeeds on every replica.
    let replicas: Vec<Server> = (0..2).map(|i| server.view(i)).collect();
    redis.stop();
    let mut during = Vec::new();
    for r in &replicas {
        during.push(userinfo_status(r, &access_token).await);
    }
    start_redis_again(&mut redis);
    assert_eq!(during, vec![503, 503], "the outage was felt on both replicas");
    for (i, r) in replicas.iter().enumerate() {
        let status = userinfo_status(r, &access_token).await;
        assert_eq!(status, 200, "replica {i}: the first request after Redis is back succeeds");
    }
    for (i, b) in at.iter().enumerate() {
        let page = silent_code(b, &client).await;
        assert!(has_code(&page), "replica {i}: the session survived the restart: {}", page.describe());
    }
    assert!(!server.log().contains("panicked"), "no panic:\n{}", tail(&server.log(), 40));
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_under_load_only_503s_and_nothing_lost() {
    if !cluster_available() {
        return;
    }
    let mut db = TestDb::new(Backend::Cluster).await;
    let Some(pg) = OwnPostgres::start(db.dir.path()) else {
        assert!(std::env::var_os("CI").is_none(), "CI must install postgresql");
        return;
    };
    let pg = Arc::new(pg);
    db.url = pg.url();
    // The default pool timeout (5 s): failing fast does not depend on it.
    let mut server = Server::start(&db, &[]).await;
    let p = pg.clone();
    let srv = server.view(usize::MAX);
    let tally = under_load(&server, &db, move |phase| {
        let p2 = p.clone();
        outage(phase, srv, Duration::from_secs(6), move || p.stop(), move || p2.run())
    })
    .await;
    assert!(tally.count("down", 503) > 0, "the outage was felt: {tally:?}");
    fails_fast(&tally, Duration::from_secs(5));
    assert!(!server.log().contains("panicked"), "no panic:\n{}", tail(&server.log(), 40));
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_load_loses_nothing() {
    // A refresh whose response was lost with the replica is retried with the
    // same token; the grace window gives the same successor instead of
    // treating the retry as theft (docs/deployment.md).
    let Some(Env { db, server, .. }) = cluster(&[("LATCHKEY_TOKENS_REFRESH_GRACE_SECONDS", "30")]).await else {
        return;
    };
    let view = server.view(usize::MAX);
    let owner = Arc::new(Mutex::new(server));
    let o = owner.clone();
    let tally = under_load(&view, &db, move |phase| async move {
        *phase.lock().unwrap() = "during";
        o.lock().unwrap().kill_replica(0);
        tokio::time::sleep(Duration::from_secs(3)).await;
    })
    .await;
    assert!(tally.count("settled", 200) > 0, "the surviving replica serves everyone: {tally:?}");
}

// ---------------------------------------------------------------------------
// Shutdown, logs, metrics.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests() {
    let Env { db, mut server, alice } = env(Backend::Sqlite, &[]).await;
    let client = confidential(&db);
    // Sign-ins queue behind the Argon2 limit (one per core): plenty in flight.
    let mut pages = Vec::new();
    for _ in 0..6 {
        let b = Browser::new(&server);
        let p = pkce();
        let page = b.authorize(&code_request(&client.id, &p).set("scope", "openid")).await;
        assert!(page.is_login());
        pages.push((b, page));
    }
    let mut tasks = Vec::new();
    for (b, page) in pages {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move { b.login(&page, &alice.username, &alice.password).await.status.as_u16() }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let code = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 302 || status == 303 || status == 200, "an in-flight sign-in completed: {status}");
    }
    assert_eq!(code, Some(0), "a clean exit after draining");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_full_run_hold_no_secret_and_carry_request_ids() {
    let Some(Env { db, server, alice }) =
        cluster(&[("LATCHKEY_LOG_FORMAT", "json"), ("LATCHKEY_LOG_LEVEL", "debug")]).await
    else {
        return;
    };
    let client = offline_client(&db, "RP", &["--post-logout-redirect-uri", BYE]);
    let b = Browser::new(&server);
    let p = pkce();
    let code = code_for(&b, &code_request(&client.id, &p).set("scope", OFFLINE_SCOPES), &alice).await;
    let t = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await.json();
    let rt = str_of(&t, "refresh_token").to_string();
    let t2 = refresh_ok(&server, &client, &rt).await;
    let at = str_of(&t2, "access_token").to_string();
    userinfo_status(&server, &at).await;
    // A wrong password and a replayed code log failures, still without values.
    let b2 = Browser::new(&server);
    let page = b2.authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
    b2.login(&page, "alice", "not-the-password-x9").await;
    token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    let res = http()
        .get(server.url("/userinfo"))
        .bearer_auth(&at)
        .header("x-request-id", "trace-me-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-4711", "the request id comes back");
    let session = b.cookie("latchkey_session").expect("session cookie");
    let rs = resource_server(&db);
    let introspected = introspect(&server, auth_of(&rs), &at, None).await;
    assert_eq!(introspected.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = server.log();
    let secrets = [
        ("client secret", client.secret().to_string()),
        ("resource server secret", rs.secret().to_string()),
        ("password", alice.password.clone()),
        ("wrong password", "not-the-password-x9".into()),
        ("code", code.clone()),
        ("code verifier", p.verifier.clone()),
        ("refresh token", rt.clone()),
        ("rotated refresh token", str_of(&t2, "refresh_token").into()),
        ("access token", at.clone()),
        ("ID token", str_of(&t, "id_token").into()),
        ("session cookie", session),
    ];
    for (what, value) in &secrets {
        assert!(!log.contains(value.as_str()), "the {what} appears in the log");
        // JWTs: not even their signature part.
        if let Some(sig) = value.rsplit('.').next().filter(|s| s.len() > 20 && value.matches('.').count() == 2) {
            assert!(!log.contains(sig), "part of the {what} appears in the log");
        }
    }
    let mut json_lines = 0;
    for line in log.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("level").is_some() && v.get("timestamp").is_some(), "{line}");
        json_lines += 1;
    }
    assert!(json_lines > 10, "JSON log lines: {json_lines}");
    assert!(
        log.lines().any(|l| l.contains("trace-me-4711") && l.contains("\"request_id\"")),
        "the caller's request id is in the log"
    );
    assert!(log.contains("login_failure") && log.contains("login_success"), "sign-ins are logged (without values)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_tokens_sign_ins_and_key_ages() {
    let Env { db, server, alice } = env(Backend::Sqlite, &[]).await;
    let client = offline_client(&db, "RP", &[]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let rt = str_of(&t, "refresh_token").to_string();
    refresh_ok(&server, &client, &rt).await;
    // Reuse of the spent token: detected and counted.
    assert_eq!(refresh(&server, auth_of(&client), &rt, None).await.status, 400);
    let b2 = Browser::new(&server);
    let page = b2.authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
    b2.login(&page, "alice", "wrong").await;

    let res = http().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
    };
    assert_eq!(value("latchkey_tokens_issued_total{grant_type=\"authorization_code\"}"), 1.0);
    assert_eq!(value("latchkey_tokens_issued_total{grant_type=\"refresh_token\"}"), 1.0);
    assert_eq!(value("latchkey_refresh_token_reuse_total"), 1.0);
    assert_eq!(value("latchkey_logins_total{outcome=\"success\"}"), 1.0);
    assert_eq!(value("latchkey_logins_total{outcome=\"failure\"}"), 1.0);
    assert!(value("latchkey_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"}") >= 2.0);
    assert!(text.contains("latchkey_http_request_duration_seconds_bucket{route=\"/token\""), "latency histogram");
    assert!(text.contains("latchkey_signing_key_age_seconds{state=\"active\"}"), "key ages\n{text}");
    assert!(
        text.contains("latchkey_store_operation_seconds_count{op=\"rotate_refresh_token\"} 1"),
        "store latency per operation\n{text}"
    );
    for secret in [client.secret(), &rt, &alice.password] {
        assert!(!text.contains(secret), "no secret in the metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sign_in_attempts_are_throttled_across_replicas() {
    let Some(Env { db, server, alice }) = cluster(&[("LATCHKEY_LOGIN_MAX_FAILURES", "3")]).await else { return };
    let client = confidential(&db);
    let mut statuses = Vec::new();
    for i in 0..4 {
        let b = browser_at(&server, i % 2);
        let page = b.authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
        statuses.push(b.login(&page, "alice", "wrong").await.status.as_u16());
    }
    assert_eq!(
        statuses,
        vec![401, 401, 401, 429],
        "the third failure locks: the fourth attempt, on either replica, is refused"
    );
    let b = browser_at(&server, 0);
    let page = b.authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
    let last = b.login(&page, &alice.username, &alice.password).await;
    assert_eq!(last.status, 429, "even the right password waits for the lock: {}", last.describe());
    assert!(last.body.contains("Too many sign-in attempts"), "{}", last.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_cluster_runs_the_topology_on_loopback() {
    if !cluster_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("cluster");
    let lb = free_port();
    let ports: Vec<String> = (0..4).map(|_| free_port().to_string()).collect();
    let script = repo_root().join("scripts/cluster");
    let run = |cmd: &str| {
        let mut c = Command::new("bash");
        c.arg(&script).arg(cmd).arg("--dir").arg(&state);
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LATCHKEY_")) {
            c.env_remove(k);
        }
        c.env("LATCHKEY_BIN", &*BIN)
            .env("LATCHKEY_CLUSTER_PORT", lb.to_string())
            .env("LATCHKEY_CLUSTER_REPLICA1_PORT", &ports[0])
            .env("LATCHKEY_CLUSTER_REPLICA2_PORT", &ports[1])
            .env("LATCHKEY_CLUSTER_PG_PORT", &ports[2])
            .env("LATCHKEY_CLUSTER_REDIS_PORT", &ports[3]);
        c.output().expect("scripts/cluster")
    };
    let started = run("start");
    struct Stop<F: Fn()>(F);
    impl<F: Fn()> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let _stop = Stop(|| {
        run("stop");
    });
    assert!(
        started.status.success(),
        "start: {}{}",
        String::from_utf8_lossy(&started.stdout),
        String::from_utf8_lossy(&started.stderr)
    );
    let issuer = format!("http://127.0.0.1:{lb}");
    let meta: Value =
        http().get(format!("{issuer}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], issuer.as_str());
    let status = run("status");
    assert!(status.status.success(), "status: {}", String::from_utf8_lossy(&status.stdout));
    // The CLI, pointed at the cluster's stores by `scripts/cluster env`.
    let env = String::from_utf8(run("env").stdout).unwrap();
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(|c| c == '\'' || c == '"').to_string()))
        .collect();
    assert!(vars.iter().any(|(k, _)| k == "LATCHKEY_REDIS_URL"), "{env}");
    let mut create = Command::new(&*BIN);
    create.args(["client", "create", "--name", "RS", "--grant-type", "client_credentials", "--scope", "api", "--json"]);
    for (k, v) in &vars {
        create.env(k, v);
    }
    let out = create.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let client: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rs =
        TestClient { id: str_of(&client, "client_id").into(), secret: Some(str_of(&client, "client_secret").into()) };
    let view = Server::view_of_url(&issuer);
    for _ in 0..4 {
        let res = token(&view, auth_of(&rs), &Params::new().set("grant_type", "client_credentials")).await;
        assert_eq!(res.status, 200, "{}", res.describe());
    }
    let stopped = run("stop");
    assert!(stopped.status.success(), "stop: {}", String::from_utf8_lossy(&stopped.stderr));
    assert!(!run("status").status.success(), "nothing runs after stop");
}
