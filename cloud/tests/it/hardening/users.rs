//! Finding 15: disabling users, changing passwords and revoking sessions (API and CLI).

use axum::http::StatusCode;

use super::login_as;
use crate::api::App;

/// Finding 15 (cloud): an admin disables a user, sets a password or revokes sessions; each
/// refuses the old token at once, and each is audited. The CLI does the same.
#[tokio::test]
async fn disable_password_and_revoke_refuse_the_old_token() {
    use crate::api::PASSWORD;
    let app = App::new().await;
    farmco_cloud::api::auth_routes::add_user_checked(
        &app.env.store,
        "boss",
        PASSWORD,
        "admin",
        "test",
    )
    .await
    .unwrap();
    let (_, admin) = login_as(&app, "boss", PASSWORD).await;
    let works = |token: String| {
        let app = &app;
        async move { app.call("GET", "/api/v1/nodes", Some(&token), None).await.0 }
    };

    // Only admins.
    let ops = app.login().await;
    let (s, _) = app
        .call("DELETE", "/api/v1/users/boss/sessions", Some(&ops), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    assert_eq!(works(ops.clone()).await, StatusCode::OK);
    let (s, v) = app
        .call("DELETE", "/api/v1/users/ops1/sessions", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sessions_revoked"], 1);
    assert_eq!(works(ops).await, StatusCode::UNAUTHORIZED);

    let ops = app.login().await;
    let (s, v) = app
        .call("POST", "/api/v1/users/ops1/disable", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["disabled"], true);
    assert_eq!(works(ops).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login_as(&app, "ops1", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = app
        .call("POST", "/api/v1/users/ops1/enable", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    let ops = app.login().await;
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/users/ops1/password",
            Some(&admin),
            Some(serde_json::json!({"password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sessions_revoked"], 1);
    assert_eq!(works(ops).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login_as(&app, "ops1", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_as(&app, "ops1", "a brand new passphrase").await.0,
        StatusCode::OK
    );

    let (s, _) = app
        .call("POST", "/api/v1/users/ghost/disable", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call("POST", "/api/v1/users/boss/disable", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        app.env
            .count(
                "SELECT count(*) FROM audit_log WHERE action IN \
                 ('user.revoke_sessions', 'user.disable', 'user.enable', 'user.password')"
            )
            .await,
        4
    );

    // The CLI, against the same database.
    let bin = env!("CARGO_BIN_EXE_farmco-cloud");
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(bin)
            .args(["--data-dir", app.env.dir.path().to_str().unwrap()])
            .args(args)
            .env("DATABASE_URL", &app.env.db.url)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ops = app.login_with("a brand new passphrase").await;
    let out = run(&["user", "revoke-sessions", "--username", "ops1"], "");
    // This login and the one that checked the new password above.
    assert!(out.contains("2 session(s) revoked"), "{out}");
    assert_eq!(works(ops).await, StatusCode::UNAUTHORIZED);
    let ops = app.login_with("a brand new passphrase").await;
    run(
        &["user", "passwd", "--username", "ops1"],
        "third passphrase\n",
    );
    assert_eq!(works(ops).await, StatusCode::UNAUTHORIZED);
    let ops = app.login_with("third passphrase").await;
    let out = run(&["user", "disable", "--username", "ops1"], "");
    assert!(out.contains("disabled"), "{out}");
    assert_eq!(works(ops).await, StatusCode::UNAUTHORIZED);
    run(&["user", "enable", "--username", "ops1"], "");
    app.login_with("third passphrase").await;
}
