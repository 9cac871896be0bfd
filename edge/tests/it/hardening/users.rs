//! Finding 15: disabling users, changing passwords and revoking sessions (API and CLI).

use axum::http::StatusCode;

use crate::support::TestNode;

/// Finding 15: an admin disables a user, changes a password or revokes sessions; each deletes
/// the user's sessions at once (the old token is refused), and each is audited.
#[tokio::test]
async fn disable_password_and_revoke_refuse_the_old_token() {
    use serde_json::json;
    let node = TestNode::new();
    let admin = node.login("admin").await;
    let me = |token: &str| {
        let token = token.to_owned();
        let node = &node;
        async move {
            node.call("GET", "/api/v1/farmers?q=a", Some(&token), None)
                .await
                .0
        }
    };

    // Only admins.
    let agent = node.login("agent").await;
    let (status, _) = node
        .call(
            "DELETE",
            "/api/v1/users/agent2/sessions",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoke sessions: the token dies, a new login works.
    assert_eq!(me(&agent).await, StatusCode::OK);
    let (status, body) = node
        .call("DELETE", "/api/v1/users/agent/sessions", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_revoked"], 1);
    assert_eq!(me(&agent).await, StatusCode::UNAUTHORIZED);
    let agent = node.login("agent").await;

    // Disable: the token dies and login is refused; enable lets them back in.
    let (status, body) = node
        .call("POST", "/api/v1/users/agent/disable", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["disabled"], true);
    assert_eq!(me(&agent).await, StatusCode::UNAUTHORIZED);
    let (status, _) = node
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "agent", "password": crate::support::PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = node
        .call("POST", "/api/v1/users/agent/enable", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let agent = node.login("agent").await;

    // A new password: the token dies, the old password fails, the new one works.
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/users/agent/password",
            Some(&admin),
            Some(json!({"password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/users/agent/password",
            Some(&admin),
            Some(json!({"password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_revoked"], 1);
    assert_eq!(me(&agent).await, StatusCode::UNAUTHORIZED);
    let (status, _) = node
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "agent", "password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Unknown users are 404; an admin cannot disable themselves.
    let (status, _) = node
        .call("POST", "/api/v1/users/nobody/disable", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = node
        .call("POST", "/api/v1/users/admin/disable", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let actions: Vec<String> = node
        .state
        .store
        .read(|c| {
            let mut stmt =
                c.prepare("SELECT action FROM audit_log WHERE action LIKE 'user.%' ORDER BY seq")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .unwrap();
    assert_eq!(
        actions,
        [
            "user.revoke_sessions",
            "user.disable",
            "user.enable",
            "user.password"
        ]
    );
}

/// Finding 15, the CLI: `user revoke-sessions|passwd|disable|enable` on a data dir.
#[test]
fn user_cli_revokes_changes_and_disables() {
    use farmco_edge::store::users;
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], stdin: &str| {
        let (ok, out) = crate::durability::cli(dir.path(), args, stdin);
        assert!(ok, "{args:?}: {out}");
        out
    };
    cli(
        &[
            "user",
            "add",
            "--username",
            "field1",
            "--role",
            "supervisor",
        ],
        "first-password-1\n",
    );
    let config = farmco_edge::config::Config::for_tests(dir.path().to_owned());
    let store = farmco_edge::store::Store::open(dir.path(), config.synchronous, 1).unwrap();
    let sessions = |store: &farmco_edge::store::Store| -> i64 {
        store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?))
            .unwrap()
    };
    let login = |store: &farmco_edge::store::Store| {
        store
            .write(|tx| {
                let (user, _) = users::find_user(tx, "field1")?.unwrap();
                users::create_session(tx, user.id, &farmco_edge::auth::new_token(), 0, i64::MAX)
            })
            .unwrap();
    };
    login(&store);
    let out = cli(&["user", "revoke-sessions", "--username", "field1"], "");
    assert!(out.contains("1 session(s) revoked"), "{out}");
    assert_eq!(sessions(&store), 0);

    login(&store);
    cli(
        &["user", "passwd", "--username", "field1"],
        "second-password-2\n",
    );
    assert_eq!(sessions(&store), 0);
    let (_, hash) = store
        .read(|c| users::find_for_login(c, "field1"))
        .unwrap()
        .unwrap();
    assert!(farmco_edge::auth::verify_password(
        "second-password-2",
        &hash
    ));
    assert!(!farmco_edge::auth::verify_password(
        "first-password-1",
        &hash
    ));

    login(&store);
    let out = cli(&["user", "disable", "--username", "field1"], "");
    assert!(out.contains("disabled"), "{out}");
    assert_eq!(sessions(&store), 0);
    assert!(
        store
            .read(|c| users::find_for_login(c, "field1"))
            .unwrap()
            .is_none()
    );
    cli(&["user", "enable", "--username", "field1"], "");
    assert!(
        store
            .read(|c| users::find_for_login(c, "field1"))
            .unwrap()
            .is_some()
    );
    let (ok, _) =
        crate::durability::cli(dir.path(), &["user", "disable", "--username", "ghost"], "");
    assert!(!ok, "an unknown user is an error");
}
