//! `latchkey user …`: Argon2id password hashes, standard claims, unique
//! usernames, clear errors that write nothing.

use latchkey_tests::*;
use sqlx::Row;

on_both_backends!(user_lifecycle, bad_user_input_writes_nothing);

async fn password_hash_of(db: &TestDb, username: &str) -> Option<String> {
    let pool = db.pool().await;
    let row = sqlx::query("SELECT password_hash FROM users WHERE username = $1")
        .bind(username.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    let hash = row.get::<Option<String>, _>("password_hash");
    pool.close().await;
    hash
}

async fn user_lifecycle(backend: Backend) {
    let db = TestDb::new(backend).await;
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--password-stdin",
            "--email",
            "alice@example.com",
            "--email-verified",
            "--name",
            "Alice Liddell",
            "--given-name",
            "Alice",
            "--family-name",
            "Liddell",
            "--phone",
            "+44 20 7946 0000",
            "--json",
        ],
        &[],
        Some("correct horse battery\n"),
    )
    .ok();
    let alice = out.json();
    let id = alice["id"].as_str().unwrap().to_string();
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["has_password"], true);
    assert_eq!(alice["claims"]["email"], "alice@example.com");
    assert_eq!(alice["claims"]["email_verified"], true);
    assert_eq!(alice["claims"]["given_name"], "Alice");
    assert_eq!(alice["claims"]["phone_number"], "+44 20 7946 0000");
    assert!(!out.stdout.contains("correct horse"));

    let hash = password_hash_of(&db, "alice").await.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    // Look-up by username ignores case; by id works too.
    assert_eq!(cli_json(&db, &["user", "show", "ALICE"])["id"], id.as_str());
    assert_eq!(cli_json(&db, &["user", "show", &id])["username"], "alice");

    let updated = cli_json(&db, &["user", "update", "alice", "--email", "a@wonderland.example", "--name", "Alice L."]);
    assert_eq!(updated["claims"]["email"], "a@wonderland.example");
    assert_eq!(updated["claims"]["email_verified"], false, "a new address is not verified");
    assert_eq!(updated["claims"]["name"], "Alice L.");

    cli(&db, &["user", "set-password", "alice", "--password-stdin"], &[], Some("a brand new passphrase\n")).ok();
    let new_hash = password_hash_of(&db, "alice").await.unwrap();
    assert_ne!(new_hash, hash);

    assert_eq!(cli_json(&db, &["user", "disable", "alice"])["disabled"], true);
    assert_eq!(cli_json(&db, &["user", "enable", "alice"])["disabled"], false);

    cli(&db, &["user", "create", "--username", "bob"], &[], None).ok();
    let list = cli_json(&db, &["user", "list"]);
    let names: Vec<_> = list.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec!["alice", "bob"]);
    assert!(list.as_array().unwrap().iter().all(|u| u.get("password_hash").is_none()), "hashes never printed");

    cli_json(&db, &["user", "delete", "bob"]);
    assert_eq!(cli_json(&db, &["user", "list"]).as_array().unwrap().len(), 1);
}

async fn bad_user_input_writes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    cli(&db, &["user", "create", "--username", "carol", "--password-stdin"], &[], Some("long enough pw\n")).ok();
    type Case<'a> = (&'a [&'a str], Option<&'a str>, &'a str);
    let cases: &[Case] = &[
        (&["user", "create", "--username", "Carol", "--password-stdin"], Some("long enough pw\n"), "taken"),
        (&["user", "create", "--username", "dave", "--password-stdin"], Some("short\n"), "at least 8"),
        (&["user", "create", "--username", "with space"], None, "white space"),
        (&["user", "create", "--username", "erin", "--email", "not-an-email"], None, "email"),
        (&["user", "show", "nobody"], None, "no user"),
        (&["user", "delete", "nobody"], None, "no user"),
        (&["user", "set-password", "nobody", "--password-stdin"], Some("long enough pw\n"), "no user"),
        (&["user", "update", "carol", "--username", "bad name"], None, "white space"),
    ];
    for (args, stdin, needle) in cases {
        let out = cli(&db, args, &[], *stdin);
        assert_ne!(out.code, 0, "{args:?} must fail");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    let users = cli_json(&db, &["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 1, "nothing was written: {users}");
    assert_eq!(users[0]["username"], "carol");
    // A second user cannot take carol's name by renaming either.
    cli(&db, &["user", "create", "--username", "frank"], &[], None).ok();
    let out = cli(&db, &["user", "update", "frank", "--username", "CAROL"], &[], None);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("taken"), "{}", out.stderr);
}
