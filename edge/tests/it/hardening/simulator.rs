//! Finding 27: the in-process modem simulator's side door is loopback only.

/// Finding 27: the in-process simulator's unauthenticated side door listens on loopback only.
#[test]
fn simulator_control_must_be_loopback() {
    use farmco_edge::config::{EMBEDDED_DEFAULT_TOML, RawConfig};
    let with = |addr: &str| {
        let text = EMBEDDED_DEFAULT_TOML.replace(
            "control_listen = \"127.0.0.1:0\"",
            &format!("control_listen = \"{addr}\""),
        );
        assert!(
            text.contains(&format!("control_listen = \"{addr}\"")),
            "the default changed"
        );
        RawConfig::parse(&text).and_then(RawConfig::validate)
    };
    for ok in ["127.0.0.1:0", "127.0.0.2:9000", "[::1]:0"] {
        assert!(with(ok).is_ok(), "{ok}");
    }
    for bad in ["0.0.0.0:0", "192.168.1.10:8081", "[::]:0"] {
        let err = with(bad).map(|_| ()).unwrap_err();
        assert!(format!("{err:#}").contains("loopback"), "{bad}: {err:#}");
    }
}
