//! Notification text, pure: a [`Message`] (Fluent key and arguments) in a language → the text
//! of the SMS, or of the message read out on a voice call, from `edge/locales/*/notify.ftl`.
//!
//! Keys the catalog knows are rendered with the message's arguments. A key it does not know
//! (a supervisor's broadcast with its own key) is sent as its `text` argument when it has one,
//! else as `notify-fallback` naming the key: a farmer always gets something readable, never an
//! error. Language-specific arguments `text_<code>` (weather advisories carry `text_en`,
//! `text_hi`, `text_mr`) become `text`: the reader's language, else its fallback (Hindi for
//! Marathi, [`Locale::fallback`]), else English, else Hindi.

use farmco_sync::Language;

use super::router::Message;
use crate::l10n::{Locale, notify_catalog};

/// Longest rendered notification: three SMS parts of the outbox (`store::sms`).
pub const NOTIFICATION_CHARS_MAX: usize = crate::sms::policy::OUTGOING_BODY_CHARS_MAX;

/// The message's arguments with `text` resolved for `locale`.
fn arguments(message: &Message, locale: Locale) -> Vec<(&str, String)> {
    let mut args: Vec<(&str, String)> = message
        .args
        .iter()
        .filter(|(k, _)| !k.starts_with("text_"))
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let localized = std::iter::once(locale)
        .chain(locale.fallback())
        .chain([Locale::En, Locale::Hi])
        .find_map(|l| message.args.get(&format!("text_{}", l.code())));
    if let Some(text) = localized {
        args.retain(|(k, _)| *k != "text");
        args.push(("text", text.clone()));
    }
    args
}

/// Render `message` for a speaker of `language`, cut to [`NOTIFICATION_CHARS_MAX`].
pub fn render_message(message: &Message, language: Language) -> String {
    let locale = Locale::for_language(language);
    let args = arguments(message, locale);
    let rendered = notify_catalog()
        .ok()
        .and_then(|catalog| catalog.render(locale, &message.key, &args).ok())
        .or_else(|| {
            args.iter()
                .find(|(k, _)| *k == "text")
                .map(|(_, v)| v.clone())
        })
        .or_else(|| {
            notify_catalog().ok().and_then(|catalog| {
                catalog
                    .render(locale, "notify-fallback", &[("key", message.key.clone())])
                    .ok()
            })
        })
        .unwrap_or_else(|| message.key.clone());
    truncate(&rendered, NOTIFICATION_CHARS_MAX)
}

/// Several low-urgency messages as one digest text.
pub fn render_digest(messages: &[Message], language: Language) -> String {
    let locale = Locale::for_language(language);
    let items = messages
        .iter()
        .map(|m| render_message(m, language))
        .collect::<Vec<_>>()
        .join(" | ");
    let text = notify_catalog()
        .ok()
        .and_then(|c| c.render(locale, "digest", &[("items", items.clone())]).ok())
        .unwrap_or(items);
    truncate(&text, NOTIFICATION_CHARS_MAX)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn message(key: &str, args: &[(&str, &str)]) -> Message {
        Message {
            key: key.to_owned(),
            args: args
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn known_keys_render_in_the_language_with_localized_text() {
        let m = message(
            "weather-warning",
            &[("text_en", "Hail tonight"), ("text_hi", "आज रात ओले")],
        );
        assert_eq!(
            render_message(&m, Language::En),
            "Weather warning: Hail tonight"
        );
        assert_eq!(render_message(&m, Language::Hi), "मौसम चेतावनी: आज रात ओले");
        // No Marathi text: the Hindi one, in the Marathi message.
        assert_eq!(render_message(&m, Language::Mr), "हवामान इशारा: आज रात ओले");
        let m = message(
            "weather-warning",
            &[
                ("text_en", "Hail tonight"),
                ("text_hi", "आज रात ओले"),
                ("text_mr", "आज रात्री गारपीट"),
            ],
        );
        assert_eq!(
            render_message(&m, Language::Mr),
            "हवामान इशारा: आज रात्री गारपीट"
        );
        assert_eq!(render_message(&m, Language::Hi), "मौसम चेतावनी: आज रात ओले");
        let only_en = message("weather-warning", &[("text_en", "Hail tonight")]);
        assert_eq!(
            render_message(&only_en, Language::Mr),
            "हवामान इशारा: Hail tonight"
        );
        let dry = message("dry-soil", &[("field", "12/3"), ("value", "9")]);
        assert_eq!(
            render_message(&dry, Language::Mr),
            "शेत 12/3 मधील माती कोरडी: ओलावा 9%. पाणी द्या."
        );
    }

    #[test]
    fn unknown_keys_fall_back_to_text_or_a_notice() {
        let m = message("canal-opening", &[("text", "Canal opens Monday")]);
        assert_eq!(render_message(&m, Language::En), "Canal opens Monday");
        let bare = message("canal-opening", &[]);
        assert!(render_message(&bare, Language::En).contains("canal-opening"));
        let long = message("broadcast", &[("text", &"x".repeat(1000))]);
        assert_eq!(
            render_message(&long, Language::En).chars().count(),
            NOTIFICATION_CHARS_MAX
        );
    }

    #[test]
    fn every_notify_message_exists_in_every_language() {
        let catalog = notify_catalog().unwrap();
        for locale in Locale::ALL {
            assert_eq!(
                catalog.message_ids(Locale::En),
                catalog.message_ids(locale),
                "{}",
                locale.code()
            );
        }
        let digest = render_digest(
            &[
                message("broadcast", &[("text", "a")]),
                message("broadcast", &[("text", "b")]),
            ],
            Language::En,
        );
        assert_eq!(digest, "FarmCo today: a | b");
    }
}
