//! Modem transcripts as test data: every file in tests/transcripts/ is a conversation with a
//! modem and the events the reader must produce from it, checked through one `check` helper.
//!
//! Format, one item per line:
//!
//! ```text
//! # comment
//! > AT+CSQ            the host wrote this command line (the test calls `command_sent`)
//! >> 0011000C91...    the host wrote a payload after the prompt (nothing for the reader)
//! < +CSQ: 17,99       the modem sent "\r\n+CSQ: 17,99\r\n" (a verbose response line)
//! << AT+CSQ\r         the modem sent these bytes exactly: escapes \r \n \\ \xHH, no
//!                     terminator added (echoes, the "> " prompt, garbage)
//! <repeat 5000 A      the modem sent "A" 5000 times (over-long lines)
//! = Final(Ok)         an expected event, in Debug form, in order
//! ```
//!
//! Each transcript runs three ways: every modem line fed whole, every byte fed alone, and all
//! bytes between two host writes fed as one read. All three must give the expected events.
//! With `UPDATE_TRANSCRIPTS=1` the expected events are rewritten from the first run (review
//! the diff before committing it).

use std::fs;
use std::path::{Path, PathBuf};

use farmco_modem_codec::at::{AtEvent, AtReader};

#[derive(Debug)]
enum Item {
    Comment(String),
    HostCommand(String),
    HostPayload(String),
    Modem { source: String, bytes: Vec<u8> },
    Expect(String),
}

fn unescape(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first != b'\\' {
            bytes.push(first);
            rest = tail;
            continue;
        }
        match tail {
            [b'r', more @ ..] => {
                bytes.push(b'\r');
                rest = more;
            }
            [b'n', more @ ..] => {
                bytes.push(b'\n');
                rest = more;
            }
            [b'\\', more @ ..] => {
                bytes.push(b'\\');
                rest = more;
            }
            [b'x', high, low, more @ ..] => {
                let digits = [*high, *low];
                let value = std::str::from_utf8(&digits)
                    .ok()
                    .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                    .unwrap_or_else(|| panic!("bad escape in {text}"));
                bytes.push(value);
                rest = more;
            }
            _ => panic!("bad escape in {text}"),
        }
    }
    bytes
}

fn parse(path: &Path) -> Vec<Item> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let source = line.to_owned();
            if let Some(rest) = line.strip_prefix(">> ") {
                Item::HostPayload(rest.to_owned())
            } else if let Some(rest) = line.strip_prefix("> ") {
                Item::HostCommand(rest.to_owned())
            } else if let Some(rest) = line.strip_prefix("<< ") {
                Item::Modem {
                    source,
                    bytes: unescape(rest),
                }
            } else if let Some(rest) = line.strip_prefix("<repeat ") {
                let (count, unit) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
                let count: usize = count.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
                Item::Modem {
                    source,
                    bytes: unescape(unit).repeat(count),
                }
            } else if let Some(rest) = line
                .strip_prefix("< ")
                .or(line.strip_prefix("<").filter(|r| r.is_empty()))
            {
                let mut bytes = b"\r\n".to_vec();
                bytes.extend_from_slice(rest.as_bytes());
                bytes.extend_from_slice(b"\r\n");
                Item::Modem { source, bytes }
            } else if let Some(rest) = line.strip_prefix("= ") {
                Item::Expect(rest.to_owned())
            } else if line.starts_with('#') || line.trim().is_empty() {
                Item::Comment(source)
            } else {
                panic!("{}: cannot read line {line:?}", path.display())
            }
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Feeding {
    /// Each modem line (or raw chunk) in one `feed`.
    Lines,
    /// Every byte in its own `feed`.
    Bytes,
    /// Everything between two host writes in one `feed`.
    Reads,
}

fn record(owner: usize, produced: Vec<AtEvent>, events: &mut Vec<(usize, String)>) {
    events.extend(
        produced
            .into_iter()
            .map(|event| (owner, format!("{event:?}"))),
    );
}

/// Runs the items; returns the events, each with the index of the item that produced it.
fn run(items: &[Item], feeding: Feeding) -> Vec<(usize, String)> {
    let mut reader = AtReader::new();
    let mut events = Vec::new();
    let mut read: Vec<u8> = Vec::new();
    let mut read_owner = 0;
    for (index, item) in items.iter().enumerate() {
        match item {
            Item::HostCommand(line) => {
                if !read.is_empty() {
                    record(
                        read_owner,
                        reader.feed(&std::mem::take(&mut read)),
                        &mut events,
                    );
                }
                reader.command_sent(line.as_bytes());
            }
            Item::HostPayload(_) => {
                if !read.is_empty() {
                    record(
                        read_owner,
                        reader.feed(&std::mem::take(&mut read)),
                        &mut events,
                    );
                }
            }
            Item::Modem { bytes, .. } => match feeding {
                Feeding::Lines => record(index, reader.feed(bytes), &mut events),
                Feeding::Bytes => {
                    for byte in bytes {
                        record(index, reader.feed(std::slice::from_ref(byte)), &mut events);
                    }
                }
                Feeding::Reads => {
                    read.extend_from_slice(bytes);
                    read_owner = index;
                }
            },
            Item::Comment(_) | Item::Expect(_) => {}
        }
    }
    if !read.is_empty() {
        record(read_owner, reader.feed(&read), &mut events);
    }
    events
}

fn render(items: &[Item], events: &[(usize, String)]) -> String {
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        match item {
            Item::Comment(source) | Item::Modem { source, .. } => out.push_str(source),
            Item::HostCommand(line) => out.push_str(&format!("> {line}")),
            Item::HostPayload(line) => out.push_str(&format!(">> {line}")),
            Item::Expect(_) => continue,
        }
        out.push('\n');
        for (_, event) in events.iter().filter(|(owner, _)| *owner == index) {
            out.push_str(&format!("= {event}\n"));
        }
    }
    out
}

/// Checks one transcript file.
fn check(path: &Path) {
    let items = parse(path);
    let expected: Vec<&str> = items
        .iter()
        .filter_map(|item| match item {
            Item::Expect(event) => Some(event.as_str()),
            _ => None,
        })
        .collect();
    let per_line = run(&items, Feeding::Lines);
    if std::env::var_os("UPDATE_TRANSCRIPTS").is_some() {
        fs::write(path, render(&items, &per_line)).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    for feeding in [Feeding::Lines, Feeding::Bytes, Feeding::Reads] {
        let actual: Vec<String> = run(&items, feeding)
            .into_iter()
            .map(|(_, event)| event)
            .collect();
        assert_eq!(
            actual,
            expected,
            "{} fed {feeding:?}; got:\n{}",
            path.display(),
            render(&items, &per_line)
        );
    }
}

fn transcript_files() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<PathBuf> = fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn transcripts() {
    let files = transcript_files();
    assert!(files.len() >= 5, "transcripts missing: {files:?}");
    for path in files {
        check(&path);
    }
}
