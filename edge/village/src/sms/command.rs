//! Farmers' SMS commands: a pure parser from the text of a message to a [`Command`].
//!
//! Keywords in English, Hindi (Devanagari) and Hinglish (Hindi in Latin letters), any case:
//!
//! | command | keywords | argument |
//! |---|---|---|
//! | help | HELP, MADAD, मदद, SAHAYATA, सहायता, ? | – |
//! | price | PRICE, BHAV, BHAAV, BHAO, MANDI, भाव, मंडी, दाम | a crop ([`Crop`]) |
//! | weather | WEATHER, MAUSAM, MOSAM, मौसम | – |
//! | soil | SOIL, MITTI, मिट्टी, मिटटी | – |
//! | moisture | MOISTURE, NAMI, नमी | – |
//! | register | REG, REGISTER, पंजीकरण | the farmer's name |
//! | language | LANG, BHASHA, भाषा | `en`/`hi`/... or a language's name |
//! | stop / start alerts | STOP, BAND, बंद / START, SHURU, शुरू | – |
//!
//! The text is NFC-normalized, zero-width joiners and stray punctuation (`.,!?:;"'()` and the
//! danda `।`) are dropped, so "Bhav: Gehun!" and "भाव गेहूँ।" parse alike. Anything else is a
//! typed [`ParseError`]; parsing never panics (property test) and reads at most
//! [`TEXT_CHARS_MAX`] characters.

use farmco_sync::Language;
use unicode_normalization::UnicodeNormalization;

/// Characters of a message the parser looks at: a 10-part UCS-2 message is 670; commands are
/// a few words, so anything past this is not a command.
pub const TEXT_CHARS_MAX: usize = 700;
/// Longest name accepted by REG, in characters (a farmer's full name fits easily).
pub const REG_NAME_CHARS_MAX: usize = 60;

/// What a farmer asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Price(Crop),
    Weather,
    Soil,
    Moisture,
    /// Self-registration with this name (pending until an agent confirms).
    Register(String),
    Lang(Language),
    /// No more alerts.
    Stop,
    /// Alerts again.
    Start,
}

impl Command {
    /// A stable label for the inbox and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::Price(_) => "price",
            Command::Weather => "weather",
            Command::Soil => "soil",
            Command::Moisture => "moisture",
            Command::Register(_) => "register",
            Command::Lang(_) => "lang",
            Command::Stop => "stop",
            Command::Start => "start",
        }
    }
}

/// Why a text is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the message is empty")]
    Empty,
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    #[error("PRICE needs a crop")]
    MissingCrop,
    #[error("unknown crop {0:?}")]
    UnknownCrop(String),
    #[error("REG needs a name")]
    MissingName,
    #[error("the name is longer than {REG_NAME_CHARS_MAX} characters")]
    NameTooLong,
    #[error("LANG needs a language")]
    MissingLanguage,
    #[error("unknown language {0:?}")]
    UnknownLanguage(String),
}

impl ParseError {
    /// A stable label for the inbox and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::UnknownCommand(_) => "unknown",
            ParseError::MissingCrop => "price_missing_crop",
            ParseError::UnknownCrop(_) => "price_unknown_crop",
            ParseError::MissingName => "register_missing_name",
            ParseError::NameTooLong => "register_name_too_long",
            ParseError::MissingLanguage => "lang_missing",
            ParseError::UnknownLanguage(_) => "lang_unknown",
        }
    }
}

/// Crops the price command knows, with their names in three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Crop {
    Wheat,
    Rice,
    Onion,
    Soybean,
    Cotton,
    Sugarcane,
    Tomato,
    Gram,
    Tur,
    Maize,
    Bajra,
    Jowar,
    Potato,
    Groundnut,
    Mustard,
}

impl Crop {
    pub const ALL: [Crop; 15] = [
        Crop::Wheat,
        Crop::Rice,
        Crop::Onion,
        Crop::Soybean,
        Crop::Cotton,
        Crop::Sugarcane,
        Crop::Tomato,
        Crop::Gram,
        Crop::Tur,
        Crop::Maize,
        Crop::Bajra,
        Crop::Jowar,
        Crop::Potato,
        Crop::Groundnut,
        Crop::Mustard,
    ];

    /// The canonical (English, lower-case) name: the `crop` of mandi-price advisories and of
    /// farms' crop seasons.
    pub fn key(self) -> &'static str {
        match self {
            Crop::Wheat => "wheat",
            Crop::Rice => "rice",
            Crop::Onion => "onion",
            Crop::Soybean => "soybean",
            Crop::Cotton => "cotton",
            Crop::Sugarcane => "sugarcane",
            Crop::Tomato => "tomato",
            Crop::Gram => "gram",
            Crop::Tur => "tur",
            Crop::Maize => "maize",
            Crop::Bajra => "bajra",
            Crop::Jowar => "jowar",
            Crop::Potato => "potato",
            Crop::Groundnut => "groundnut",
            Crop::Mustard => "mustard",
        }
    }

    /// The Hindi name used in replies.
    pub fn hindi(self) -> &'static str {
        match self {
            Crop::Wheat => "गेहूं",
            Crop::Rice => "धान",
            Crop::Onion => "प्याज",
            Crop::Soybean => "सोयाबीन",
            Crop::Cotton => "कपास",
            Crop::Sugarcane => "गन्ना",
            Crop::Tomato => "टमाटर",
            Crop::Gram => "चना",
            Crop::Tur => "तूर",
            Crop::Maize => "मक्का",
            Crop::Bajra => "बाजरा",
            Crop::Jowar => "ज्वार",
            Crop::Potato => "आलू",
            Crop::Groundnut => "मूंगफली",
            Crop::Mustard => "सरसों",
        }
    }

    /// The Marathi name used in replies (the names on Maharashtra's APMC boards).
    pub fn marathi(self) -> &'static str {
        match self {
            Crop::Wheat => "गहू",
            Crop::Rice => "भात",
            Crop::Onion => "कांदा",
            Crop::Soybean => "सोयाबीन",
            Crop::Cotton => "कापूस",
            Crop::Sugarcane => "ऊस",
            Crop::Tomato => "टोमॅटो",
            Crop::Gram => "हरभरा",
            Crop::Tur => "तूर",
            Crop::Maize => "मका",
            Crop::Bajra => "बाजरी",
            Crop::Jowar => "ज्वारी",
            Crop::Potato => "बटाटा",
            Crop::Groundnut => "भुईमूग",
            Crop::Mustard => "मोहरी",
        }
    }

    /// Every spelling recognized (before normalization).
    fn names(self) -> &'static [&'static str] {
        match self {
            Crop::Wheat => &[
                "wheat",
                "gehun",
                "gehu",
                "gehoon",
                "gehum",
                "गेहूं",
                "गेहूँ",
                "गेहू",
            ],
            Crop::Rice => &["rice", "paddy", "dhan", "dhaan", "chawal", "धान", "चावल"],
            Crop::Onion => &[
                "onion",
                "pyaz",
                "pyaj",
                "pyaaz",
                "kanda",
                "प्याज",
                "प्याज़",
                "कांदा",
            ],
            Crop::Soybean => &["soybean", "soyabean", "soya", "सोयाबीन"],
            Crop::Cotton => &["cotton", "kapas", "kapaas", "कपास"],
            Crop::Sugarcane => &["sugarcane", "ganna", "गन्ना"],
            Crop::Tomato => &["tomato", "tamatar", "टमाटर"],
            Crop::Gram => &["gram", "chana", "channa", "चना"],
            Crop::Tur => &["tur", "toor", "arhar", "tuar", "तूर", "अरहर", "तुअर"],
            Crop::Maize => &["maize", "corn", "makka", "makki", "मक्का"],
            Crop::Bajra => &["bajra", "pearl", "बाजरा"],
            Crop::Jowar => &["jowar", "jwar", "sorghum", "ज्वार"],
            Crop::Potato => &["potato", "aloo", "alu", "आलू"],
            Crop::Groundnut => &["groundnut", "peanut", "moongfali", "mungfali", "मूंगफली"],
            Crop::Mustard => &["mustard", "sarson", "सरसों"],
        }
    }

    /// Recognize a crop from one normalized word (or a farm's free-text crop name).
    pub fn from_word(word: &str) -> Option<Crop> {
        let word = normalize(word);
        let word = word.trim();
        Crop::ALL.into_iter().find(|crop| {
            crop.names()
                .iter()
                .any(|name| normalize(name).as_str() == word)
        })
    }
}

fn is_dropped(c: char) -> bool {
    // Zero-width (non-)joiners and BOM: invisible, typed by some keyboards.
    matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}')
}

fn is_punctuation(c: char) -> bool {
    // Devanagari danda and double danda are sentence punctuation; the rest of the block is
    // letters, vowel signs, virama and nukta, which must stay.
    matches!(c, '\u{0964}' | '\u{0965}')
        || (c.is_ascii_punctuation() && c != '-' && c != '+')
        || matches!(c, '…' | '“' | '”' | '‘' | '’' | '«' | '»' | '¿' | '¡')
}

/// NFC, lower case, invisible characters dropped, punctuation → space, spaces collapsed.
pub fn normalize(text: &str) -> String {
    let nfc: String = text
        .chars()
        .take(TEXT_CHARS_MAX)
        .filter(|c| !is_dropped(*c))
        .nfc()
        .collect();
    let mut out = String::with_capacity(nfc.len());
    for c in nfc.chars() {
        if is_punctuation(c) || c.is_whitespace() || c.is_control() {
            out.push(' ');
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn keyword_is(word: &str, keywords: &[&str]) -> bool {
    keywords.iter().any(|k| normalize(k) == word)
}

const HELP: &[&str] = &["help", "madad", "मदद", "sahayata", "सहायता", "menu", "info"];
const PRICE: &[&str] = &[
    "price",
    "prices",
    "rate",
    "bhav",
    "bhaav",
    "bhao",
    "bhaw",
    "mandi",
    "daam",
    "dam",
    "भाव",
    "मंडी",
    "दाम",
];
const WEATHER: &[&str] = &["weather", "mausam", "mosam", "mousam", "मौसम"];
const SOIL: &[&str] = &["soil", "mitti", "mati", "मिट्टी", "मिटटी", "माटी"];
const MOISTURE: &[&str] = &["moisture", "nami", "नमी"];
const REGISTER: &[&str] = &["reg", "register", "registration", "पंजीकरण", "रजिस्टर"];
const LANG: &[&str] = &["lang", "language", "bhasha", "भाषा"];
const STOP: &[&str] = &["stop", "band", "बंद", "unsubscribe"];
const START: &[&str] = &["start", "shuru", "शुरू", "subscribe"];

/// Parse a language argument: an ISO code or a language's name in English, Hinglish or its
/// own script.
fn parse_language(word: &str) -> Option<Language> {
    let named = [
        (Language::En, &["english", "angrezi", "अंग्रेजी", "अंग्रेज़ी"][..]),
        (Language::Hi, &["hindi", "हिंदी", "हिन्दी"][..]),
        (Language::Mr, &["marathi", "मराठी"][..]),
    ];
    for (language, names) in named {
        if keyword_is(word, names) {
            return Some(language);
        }
    }
    Language::parse("lang", word).ok()
}

/// Parse a message. Pure; never panics.
pub fn parse(text: &str) -> Result<Command, ParseError> {
    if text.trim() == "?" {
        return Ok(Command::Help);
    }
    let normalized = normalize(text);
    let mut words = normalized.split(' ').filter(|w| !w.is_empty());
    let Some(first) = words.next() else {
        return Err(ParseError::Empty);
    };
    let rest: Vec<&str> = words.collect();
    if keyword_is(first, HELP) {
        return Ok(Command::Help);
    }
    if keyword_is(first, PRICE) {
        let Some(word) = rest.first() else {
            return Err(ParseError::MissingCrop);
        };
        // "bhav gehun ka" / "price of wheat": the first word that is a crop.
        return rest
            .iter()
            .find_map(|w| Crop::from_word(w))
            .map(Command::Price)
            .ok_or_else(|| ParseError::UnknownCrop((*word).to_owned()));
    }
    if keyword_is(first, WEATHER) {
        return Ok(Command::Weather);
    }
    if keyword_is(first, SOIL) {
        return Ok(Command::Soil);
    }
    if keyword_is(first, MOISTURE) {
        return Ok(Command::Moisture);
    }
    if keyword_is(first, STOP) {
        return Ok(Command::Stop);
    }
    if keyword_is(first, START) {
        return Ok(Command::Start);
    }
    if keyword_is(first, LANG) {
        let Some(word) = rest.first() else {
            return Err(ParseError::MissingLanguage);
        };
        return parse_language(word)
            .map(Command::Lang)
            .ok_or_else(|| ParseError::UnknownLanguage((*word).to_owned()));
    }
    if keyword_is(first, REGISTER) {
        return register_name(text);
    }
    // A crop alone ("gehun") is a price question.
    if let Some(crop) = Crop::from_word(first) {
        return Ok(Command::Price(crop));
    }
    Err(ParseError::UnknownCommand(first.chars().take(20).collect()))
}

/// The name after REG, as the farmer wrote it (case kept, punctuation trimmed).
fn register_name(text: &str) -> Result<Command, ParseError> {
    let nfc: String = text
        .chars()
        .take(TEXT_CHARS_MAX)
        .filter(|c| !is_dropped(*c))
        .nfc()
        .collect();
    let mut parts = nfc.split_whitespace();
    parts.next();
    let name: Vec<&str> = parts
        .map(|w| w.trim_matches(|c: char| is_punctuation(c) && c != '.'))
        .filter(|w| !w.is_empty())
        .collect();
    let name = name.join(" ");
    if name.is_empty() {
        return Err(ParseError::MissingName);
    }
    if name.chars().count() > REG_NAME_CHARS_MAX {
        return Err(ParseError::NameTooLong);
    }
    Ok(Command::Register(name))
}

/// True when the text is mostly Devanagari (the reply language of an unknown sender).
pub fn is_devanagari(text: &str) -> bool {
    let (mut deva, mut latin) = (0usize, 0usize);
    for c in text.chars().take(TEXT_CHARS_MAX) {
        if ('\u{0900}'..='\u{097F}').contains(&c) {
            deva += 1;
        } else if c.is_ascii_alphabetic() {
            latin += 1;
        }
    }
    deva > 0 && deva >= latin
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str, expected: Result<Command, ParseError>) {
        assert_eq!(parse(text), expected, "{text:?}");
    }

    #[test]
    fn keywords_in_three_forms() {
        for text in ["HELP", "help", "Madad", "मदद", " madad! ", "?"] {
            check(text, Ok(Command::Help));
        }
        for text in [
            "PRICE WHEAT",
            "price wheat",
            "BHAV GEHUN",
            "bhav gehu",
            "भाव गेहूं",
            "भाव गेहूँ",
            "भाव: गेहूं।",
            "Bhav, Gehun!",
            "gehun",
            "mandi bhav gehun",
        ] {
            check(text, Ok(Command::Price(Crop::Wheat)));
        }
        check("bhav dhan", Ok(Command::Price(Crop::Rice)));
        check("भाव चावल", Ok(Command::Price(Crop::Rice)));
        check("BHAV PYAZ", Ok(Command::Price(Crop::Onion)));
        check("भाव प्याज़", Ok(Command::Price(Crop::Onion)));
        check("bhav soyabean", Ok(Command::Price(Crop::Soybean)));
        check("भाव कपास", Ok(Command::Price(Crop::Cotton)));
        check("price ganna", Ok(Command::Price(Crop::Sugarcane)));
        check("भाव टमाटर", Ok(Command::Price(Crop::Tomato)));
        check("bhav chana", Ok(Command::Price(Crop::Gram)));
        check("भाव अरहर", Ok(Command::Price(Crop::Tur)));
        check("भाव तूर", Ok(Command::Price(Crop::Tur)));
        check("bhav makka", Ok(Command::Price(Crop::Maize)));
        check("भाव बाजरा", Ok(Command::Price(Crop::Bajra)));
        check("भाव ज्वार", Ok(Command::Price(Crop::Jowar)));
        for text in ["WEATHER", "mausam", "मौसम"] {
            check(text, Ok(Command::Weather));
        }
        for text in ["SOIL", "mitti", "मिट्टी"] {
            check(text, Ok(Command::Soil));
        }
        for text in ["MOISTURE", "nami", "नमी"] {
            check(text, Ok(Command::Moisture));
        }
        check("STOP", Ok(Command::Stop));
        check("बंद", Ok(Command::Stop));
        check("start", Ok(Command::Start));
        check("शुरू", Ok(Command::Start));
        check("LANG hi", Ok(Command::Lang(Language::Hi)));
        check("lang English", Ok(Command::Lang(Language::En)));
        check("भाषा हिंदी", Ok(Command::Lang(Language::Hi)));
    }

    #[test]
    fn registration_keeps_the_name_as_written() {
        check(
            "REG Sunita Pawar",
            Ok(Command::Register("Sunita Pawar".into())),
        );
        check(
            "reg  सुनीता पवार।",
            Ok(Command::Register("सुनीता पवार".into())),
        );
        check("REG", Err(ParseError::MissingName));
        check(
            &format!("REG {}", "a".repeat(REG_NAME_CHARS_MAX + 1)),
            Err(ParseError::NameTooLong),
        );
    }

    #[test]
    fn typed_errors() {
        check("", Err(ParseError::Empty));
        check(" ।. ", Err(ParseError::Empty));
        check("bhav", Err(ParseError::MissingCrop));
        check("price mango", Err(ParseError::UnknownCrop("mango".into())));
        check("hello", Err(ParseError::UnknownCommand("hello".into())));
        check("lang", Err(ParseError::MissingLanguage));
        check(
            "lang klingon",
            Err(ParseError::UnknownLanguage("klingon".into())),
        );
    }

    #[test]
    fn normalization_composes_and_strips() {
        // "गेहूं" typed with a zero-width joiner inside, and decomposed nukta forms.
        check("भाव गे\u{200D}हूं", Ok(Command::Price(Crop::Wheat)));
        check("भाव प्या\u{091C}\u{093C}", Ok(Command::Price(Crop::Onion)));
        assert_eq!(normalize("  PRICE,,Wheat!! "), "price wheat");
    }

    #[test]
    fn script_detection() {
        assert!(is_devanagari("भाव गेहूं"));
        assert!(!is_devanagari("bhav gehun"));
        assert!(!is_devanagari("12345"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_devanagari(text in "[\\u{0900}-\\u{097F} a-zA-Z.!।]{0,80}") {
            let _ = parse(&text);
        }
    }
}
