//! `latchkey user …`: Argon2id password hashes, standard claims, groups,
//! unique usernames, clear errors that write nothing.

use latchkey_tests::*;
use sqlx::Row;

on_both_backends!(user_lifecycle, groups_are_set_added_and_removed, bad_user_input_writes_nothing);

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
    let db = TestDb::migrated(backend).await;
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
            "--claim",
            "nickname=Al",
            "--claim",
            "zoneinfo=Europe/London",
            "--claim",
            "address.locality=Oxford",
            "--claim",
            "locale=en_GB",
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
    assert_eq!(alice["claims"]["phone_number"], "+442079460000", "E.164");
    assert_eq!(alice["claims"]["phone_number_verified"], false);
    assert_eq!(alice["claims"]["nickname"], "Al");
    assert_eq!(alice["claims"]["zoneinfo"], "Europe/London");
    assert_eq!(alice["claims"]["locale"], "en-GB", "BCP 47");
    assert_eq!(alice["claims"]["address"], json!({"locality": "Oxford"}));
    assert_eq!(alice["claims"]["website"], Value::Null, "unset claims are null");
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
    let args = [
        "user",
        "update",
        "alice",
        "--claim",
        "nickname=",
        "--claim",
        "birthdate=0000-05-04",
        "--phone-verified",
        "true",
    ];
    let updated = cli_json(&db, &args);
    assert_eq!(updated["claims"]["nickname"], Value::Null, "NAME= clears");
    assert_eq!(updated["claims"]["birthdate"], "0000-05-04");
    assert_eq!(updated["claims"]["phone_number_verified"], true);
    let shown = cli(&db, &["user", "show", "alice"], &[], None).ok();
    assert!(shown.stdout.contains("birthdate:      0000-05-04"), "{}", shown.stdout);
    assert!(shown.stdout.contains("phone_number:   +442079460000 (verified)"), "{}", shown.stdout);

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

async fn groups_are_set_added_and_removed(backend: Backend) {
    let db = TestDb::migrated(backend).await;
    let args = ["user", "create", "--username", "gina", "--group", "staff", "--group", "/org/ops", "--group", "staff"];
    let gina = cli_json(&db, &args);
    assert_eq!(gina["groups"], json!(["staff", "/org/ops"]), "duplicates removed, order kept: {gina}");
    assert!(gina["claims"].get("groups").is_none(), "groups beside the claims, as in the admin API: {gina}");
    let shown = cli(&db, &["user", "show", "gina"], &[], None).ok();
    assert!(shown.stdout.contains("groups:         staff, /org/ops"), "{}", shown.stdout);

    let update = |args: &[&str]| cli_json(&db, &[&["user", "update", "gina"][..], args].concat())["groups"].clone();
    assert_eq!(update(&["--add-group", "admins", "--remove-group", "staff"]), json!(["/org/ops", "admins"]));
    assert_eq!(update(&["--group", "a", "--group", "b"]), json!(["a", "b"]), "--group replaces");
    assert_eq!(update(&["--clear-groups", "--add-group", "c"]), json!(["c"]));
    assert_eq!(update(&["--name", "Gina"]), json!(["c"]), "other changes keep the groups");
    assert_eq!(update(&["--clear-groups"]), json!([]));

    // Stored with the claims: still there after a restart of the CLI, and
    // users without groups store none.
    let pool = db.pool().await;
    let row = sqlx::query("SELECT claims FROM users WHERE username = $1").bind("gina").fetch_one(&pool).await.unwrap();
    assert!(!row.get::<String, _>("claims").contains("groups"), "no groups, no member");
    pool.close().await;

    for (args, needle) in [
        (&["user", "create", "--username", "hal", "--group", "two words"][..], "white space"),
        (&["user", "create", "--username", "hal", "--group", ""][..], "1 to 128"),
        (&["user", "update", "gina", "--add-group", "tab\there"][..], "white space"),
        (&["user", "update", "gina", "--group", "a", "--add-group", "b"][..], "cannot be used with"),
    ] {
        let out = cli(&db, args, &[], None);
        assert_ne!(out.code, 0, "{args:?} must fail");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    assert!(cli(&db, &["user", "show", "hal"], &[], None).code != 0, "nothing was written");
    let many: Vec<String> = (0..=100).map(|i| format!("g{i}")).collect();
    let mut args = vec!["user", "update", "gina"];
    for g in &many {
        args.extend(["--add-group", g.as_str()]);
    }
    let out = cli(&db, &args, &[], None);
    assert!(out.code != 0 && out.stderr.contains("at most 100"), "{}", out.stderr);
}

async fn bad_user_input_writes_nothing(backend: Backend) {
    let db = TestDb::migrated(backend).await;
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
        (&["user", "update", "carol", "--claim", "birthdate=yesterday"], None, "birthdate must be"),
        (&["user", "update", "carol", "--claim", "shoe_size=9"], None, "not a claim"),
        (&["user", "update", "carol", "--claim", "nickname"], None, "NAME=VALUE"),
        (&["user", "update", "carol", "--phone", "0171 555 0199"], None, "E.164"),
        (&["user", "create", "--username", "erin", "--claim", "picture=javascript:alert(1)"], None, "URL"),
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
