//! Faithfulness: real modem software from Debian (gammu) drives the simulator over its
//! pseudo-terminal — `gammu identify`, `gammu sendsms` of a 3-part Hindi message, and
//! `gammu getallsms` of messages injected through the side door. Gammu probes with many
//! commands the simulator does not know; it relies on echo and on `ERROR` for those.
//!
//! Needs the `gammu` binary (Debian package `gammu`; `scripts/setup` installs it). When it is
//! absent the test says so and passes without checking anything.

use std::path::Path;
use std::process::Command;

use crate::driver_send::HINDI_THREE_PARTS;
use crate::harness::{sim_settings, start_sim};

fn gammu_available() -> bool {
    Command::new("gammu").arg("--version").output().is_ok()
}

async fn gammu(config: &Path, args: &[&str]) -> String {
    let mut command = Command::new("gammu");
    command.arg("-c").arg(config).args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "gammu {args:?} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_identifies_sends_and_reads() {
    if !gammu_available() {
        eprintln!(
            "SKIPPED: the gammu binary is not installed (apt-get install gammu); scripts/setup installs it"
        );
        return;
    }
    let sim = start_sim(sim_settings(), false).await;
    let config = sim.dir.path().join("gammurc");
    std::fs::write(
        &config,
        format!(
            "[gammu]\ndevice = {}\nconnection = at\nlogfile = {}\nlogformat = textall\n",
            sim.sim.port_path().display(),
            sim.dir.path().join("gammu.log").display()
        ),
    )
    .unwrap();

    let identity = gammu(&config, &["identify"]).await;
    assert!(identity.contains("SIMCOM_Ltd"), "{identity}");
    assert!(identity.contains("866262030000017"), "{identity}");
    assert!(identity.contains("404450000000017"), "{identity}");

    let sent = gammu(
        &config,
        &[
            "sendsms",
            "TEXT",
            "+919876543210",
            "-unicode",
            "-autolen",
            "600",
            "-text",
            HINDI_THREE_PARTS,
        ],
    )
    .await;
    assert!(sent.contains("message reference"), "{sent}");
    let outbox = sim.sim.outbox();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0].to, "+919876543210");
    assert_eq!(outbox[0].parts, 3);
    assert_eq!(outbox[0].text, HINDI_THREE_PARTS);

    sim.sim
        .send_sms("+919812345678", "Wheat price today?")
        .unwrap();
    let question =
        "मेरी फसल में कीड़े लग गए हैं, क्या करूँ? कृपया जल्दी बताइए, बहुत नुकसान हो रहा है। धन्यवाद, रामू";
    assert_eq!(
        sim.sim.send_sms("+919812345679", question).unwrap().parts,
        2
    );
    let listing = gammu(&config, &["getallsms"]).await;
    assert!(listing.contains("3 SMS parts"), "{listing}");
    assert!(listing.contains("Wheat price today?"), "{listing}");
    assert!(listing.contains("\"+919812345679\""), "{listing}");
    assert!(listing.contains("part 2 of 2"), "{listing}");
    let first_words: String = question.chars().take(20).collect();
    let last_words: String = question
        .chars()
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(listing.contains(&first_words), "{listing}");
    assert!(listing.contains(&last_words), "{listing}");
    sim.sim.shutdown().await;
}
