//! One-time codes over the HTTP API (OWASP ASVS 2.7 style): the code reaches the farmer's
//! phone through the SMS outbox, verifies once, only for its purpose, locks after five wrong
//! answers, and at most three are sent per phone per hour; codes and phones are stored only
//! as keyed hashes; every issue, verification and lock is audited.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestNode, error_of};

const PHONE: &str = "+919812300001";

/// The body of the newest SMS to `phone` in the outbox.
fn last_sms_to(node: &TestNode, phone: &str) -> String {
    node.state
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT body FROM sms_outbox WHERE recipient = ?1 ORDER BY id DESC LIMIT 1",
                [phone],
                |r| r.get::<_, String>(0),
            )?)
        })
        .unwrap()
}

/// The six-digit code in an SMS body.
fn code_in(body: &str) -> String {
    let digits: Vec<char> = body.chars().collect();
    for start in 0..digits.len().saturating_sub(5) {
        let window: String = digits[start..start + 6].iter().collect();
        let before = start.checked_sub(1).map(|i| digits[i]);
        let after = digits.get(start + 6);
        if window.chars().all(|c| c.is_ascii_digit())
            && !before.is_some_and(|c| c.is_ascii_digit())
            && !after.is_some_and(|c| c.is_ascii_digit())
        {
            return window;
        }
    }
    panic!("no code in {body:?}");
}

fn other_code(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn issue(node: &TestNode, token: &str, farmer: &str, purpose: &str) -> (StatusCode, Value) {
    node.call(
        "POST",
        &format!("/api/v1/farmers/{farmer}/otp"),
        Some(token),
        Some(json!({ "purpose": purpose })),
    )
    .await
}

async fn verify(
    node: &TestNode,
    token: &str,
    otp_id: &str,
    purpose: &str,
    code: &str,
) -> (StatusCode, Value) {
    node.call(
        "POST",
        &format!("/api/v1/otp/{otp_id}/verify"),
        Some(token),
        Some(json!({ "purpose": purpose, "code": code })),
    )
    .await
}

fn audit_actions(node: &TestNode) -> Vec<(String, String)> {
    node.state
        .store
        .read(|c| {
            let mut stmt = c.prepare("SELECT action, detail FROM audit_log ORDER BY seq")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

#[tokio::test]
async fn a_code_reaches_the_phone_verifies_once_and_is_stored_only_as_a_hash() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let farmer = node.farmer(&token, "Sunita Pawar", PHONE).await;
    let (status, body) = issue(&node, &token, &farmer, "consent").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let otp_id = body["otp_id"].as_str().unwrap().to_owned();
    assert!(
        body.get("code").is_none(),
        "the code is never in a response: {body}"
    );
    let sms = last_sms_to(&node, PHONE);
    let code = code_in(&sms);
    // Hindi speaker: the text is in Hindi and says what the code is for.
    assert!(sms.contains("सहमति"), "{sms}");

    // Wrong purpose first: refused, and it does not burn the code.
    let (status, body) = verify(&node, &token, &otp_id, "erasure", &code).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_of(&body).0, "otp_wrong_purpose");

    let (status, body) = verify(&node, &token, &otp_id, "consent", &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true);

    // Replay: refused.
    let (status, body) = verify(&node, &token, &otp_id, "consent", &code).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(error_of(&body).0, "otp_used");

    // Neither the code nor the phone is stored in clear in the OTP tables, nor audited.
    let stored: Vec<(Vec<u8>, String, String)> = node
        .state
        .store
        .read(|c| {
            let mut stmt = c.prepare("SELECT code_tag, phone_index, subject FROM otp_codes")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert_eq!(stored.len(), 1);
    let (tag, phone_index, subject) = &stored[0];
    assert_eq!(tag.len(), 32);
    assert!(!String::from_utf8_lossy(tag).contains(&code));
    assert!(!phone_index.contains("9812300001"));
    assert_eq!(subject, &farmer);
    let audit = audit_actions(&node);
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert!(actions.contains(&"otp.issue"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "otp.verify").count(), 3);
    for (_, detail) in &audit {
        assert!(!detail.contains(&code), "code in the audit log: {detail}");
        assert!(
            !detail.contains("9812300001"),
            "phone in the audit log: {detail}"
        );
    }
}

#[tokio::test]
async fn five_wrong_codes_lock_the_phone_for_an_hour() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let farmer = node.farmer(&token, "Ramesh Shinde", PHONE).await;
    let (_, body) = issue(&node, &token, &farmer, "erasure").await;
    let otp_id = body["otp_id"].as_str().unwrap().to_owned();
    let code = code_in(&last_sms_to(&node, PHONE));
    let wrong = other_code(&code);
    for left in (1..5).rev() {
        let (status, body) = verify(&node, &token, &otp_id, "erasure", &wrong).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_of(&body), ("otp_wrong".into(), Some("code".into())));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} tries"))
        );
    }
    let (status, body) = verify(&node, &token, &otp_id, "erasure", &wrong).await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    // Locked: the right code is refused too, and no new code is sent to that phone.
    let (status, body) = verify(&node, &token, &otp_id, "erasure", &code).await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    let (status, body) = issue(&node, &token, &farmer, "erasure").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(error_of(&body).0, "otp_locked");
    let actions: Vec<String> = audit_actions(&node).into_iter().map(|(a, _)| a).collect();
    assert!(actions.contains(&"otp.lock".to_owned()), "{actions:?}");
    assert!(actions.contains(&"otp.refused".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn at_most_three_codes_per_phone_per_hour() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let farmer = node.farmer(&token, "Asha Gaikwad", PHONE).await;
    for _ in 0..3 {
        let (status, body) = issue(&node, &token, &farmer, "export").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let outbox_before: i64 = node
        .state
        .store
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM sms_outbox", [], |r| r.get(0))?))
        .unwrap();
    let (status, body) = issue(&node, &token, &farmer, "export").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(error_of(&body).0, "otp_rate_limited");
    let outbox_after: i64 = node
        .state
        .store
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM sms_outbox", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(outbox_before, outbox_after, "a refused code sends no SMS");
    // The limit is per phone: a registration code to another number still goes.
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/otp",
            Some(&token),
            Some(json!({"purpose": "registration", "phone": "+919812300002", "language": "mr"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn codes_are_scoped_to_villages_and_to_whoever_asked() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let other = node.login("agent2").await;
    let farmer = node.farmer(&agent, "Meena Kale", PHONE).await;
    // An agent of another village cannot have a code sent to this farmer.
    let (status, _) = issue(&node, &other, &farmer, "consent").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = issue(&node, &agent, &farmer, "consent").await;
    let otp_id = body["otp_id"].as_str().unwrap().to_owned();
    let code = code_in(&last_sms_to(&node, PHONE));
    // Another agent cannot submit it (the code does not exist for them) ...
    let (status, _) = verify(&node, &other, &otp_id, "consent", &code).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // ... and an unknown purpose or a purpose not for farmers is a clear 422.
    let (status, body) = issue(&node, &agent, &farmer, "registration").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        error_of(&body),
        ("invalid_purpose".into(), Some("purpose".into()))
    );
    let (status, _) = verify(&node, &agent, &otp_id, "consent", &code).await;
    assert_eq!(status, StatusCode::OK);
}
