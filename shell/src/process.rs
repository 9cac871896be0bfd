//! Process plumbing of the edge and cloud binaries: the tracing subscriber and the shutdown
//! signal.

/// Install the tracing subscriber on stderr: human-readable lines, or one JSON object per line
/// when `json`. `RUST_LOG` overrides `level`; an unparsable filter falls back to `info`.
pub fn init_logging(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests start several servers in one process) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Digits of a number kept visible when it is logged (enough to tell two farmers apart in a
/// support call, too few to call anyone).
pub const LOGGED_NUMBER_DIGITS_VISIBLE: usize = 4;
/// Runs of this many digits or more are taken for phone numbers.
const NUMBER_DIGITS_MIN: usize = 7;

/// `text` with every phone-number-like run of digits (7 or more, `+` kept) masked down to its
/// last [`LOGGED_NUMBER_DIGITS_VISIBLE`] digits: `+919812345678` → `+********5678`. For log
/// lines that would otherwise carry a caller's or sender's number.
pub fn redact_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= NUMBER_DIGITS_MIN {
            let keep = run.len() - LOGGED_NUMBER_DIGITS_VISIBLE;
            out.extend(std::iter::repeat_n('*', keep));
            out.push_str(&run[keep..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_and_short_numbers_kept() {
        assert_eq!(redact_numbers("+919812345678"), "+********5678");
        assert_eq!(
            redact_numbers("Some(Callback { number: \"+919812345678\", id: 42 })"),
            "Some(Callback { number: \"+********5678\", id: 42 })"
        );
        assert_eq!(redact_numbers("9812345678/3/1"), "******5678/3/1");
        assert_eq!(redact_numbers("call 12 at 2026"), "call 12 at 2026");
        assert_eq!(redact_numbers(""), "");
    }
}
