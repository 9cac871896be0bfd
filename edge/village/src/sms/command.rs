//! Farmers' SMS commands: a pure parser from the text of a message to a [`Command`].
//!
//! Keywords in English, Hindi and Marathi (Devanagari), and Hindi or Marathi typed in Latin
//! letters (Hinglish, "BHAV KANDA"), any case:
//!
//! | command | English / Latin | Hindi | Marathi | argument |
//! |---|---|---|---|---|
//! | help | HELP, MADAD, MADAT, SAHAYATA, ? | मदद, सहायता | मदत | – |
//! | price | PRICE, BHAV, BHAAV, BHAO, MANDI | भाव, दर, मंडी, दाम | भाव, दर, बाजारभाव | a crop ([`Crop`]) |
//! | weather | WEATHER, MAUSAM, HAVAMAN | मौसम | हवामान | – |
//! | soil | SOIL, MITTI, MATI | मिट्टी, मिटटी, माटी | माती | – |
//! | moisture | MOISTURE, NAMI, OLAVA | नमी | ओलावा | – |
//! | register | REG, REGISTER, NONDANI | पंजीकरण, रजिस्टर | नोंदणी, रजिस्टर | the farmer's name |
//! | language | LANG, BHASHA | भाषा | भाषा | `en`/`hi`/`mr` or a language's name |
//! | stop alerts | STOP, BAND | बंद | बंद | – |
//! | start alerts | START, SHURU, SURU | शुरू | सुरू | – |
//!
//! Crops have their English, Hindi and Marathi names and the Latin spellings farmers type
//! ([`Crop`]).
//!
//! **Hindi or Marathi?** Both are written in Devanagari and share words (भाव, बंद, तूर), so a
//! Devanagari text's language is read from its words ([`devanagari_language`]): Marathi when it
//! has more Marathi-only words (the Marathi column above, Marathi crop names such as गहू, कांदा,
//! हरभरा, or any word with ळ, a letter Hindi does not use) than Hindi-only ones; Hindi otherwise,
//! including a tie or only shared words. This only picks the reply language of a phone the box
//! knows nothing about: a registered farmer's stored language, then a phone's LANG choice, come
//! first (`farmco_edge::sms::reply_locale`). A text in Latin letters is answered in English.
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

    /// Every spelling recognized (before normalization), by who writes it.
    fn names(self) -> Spellings {
        match self {
            Crop::Wheat => Spellings {
                latin: &["wheat", "gehun", "gehu", "gehoon", "gehum", "gahu", "gahoo"],
                hindi: &["गेहूं", "गेहूँ", "गेहू"],
                marathi: &["गहू"],
                ..Spellings::NONE
            },
            Crop::Rice => Spellings {
                latin: &[
                    "rice", "paddy", "dhan", "dhaan", "chawal", "bhat", "tandul", "tandool",
                ],
                hindi: &["धान", "चावल"],
                marathi: &["भात", "तांदूळ"],
                ..Spellings::NONE
            },
            Crop::Onion => Spellings {
                latin: &["onion", "pyaz", "pyaj", "pyaaz", "kanda"],
                hindi: &["प्याज", "प्याज़"],
                marathi: &["कांदा"],
                ..Spellings::NONE
            },
            Crop::Soybean => Spellings {
                latin: &["soybean", "soyabean", "soya"],
                shared: &["सोयाबीन"],
                ..Spellings::NONE
            },
            Crop::Cotton => Spellings {
                latin: &["cotton", "kapas", "kapaas", "kapus", "kapoos"],
                hindi: &["कपास"],
                marathi: &["कापूस"],
                ..Spellings::NONE
            },
            Crop::Sugarcane => Spellings {
                latin: &["sugarcane", "ganna", "oos", "us"],
                hindi: &["गन्ना"],
                marathi: &["ऊस"],
                ..Spellings::NONE
            },
            Crop::Tomato => Spellings {
                latin: &["tomato", "tamatar"],
                shared: &["टोमाटो"],
                hindi: &["टमाटर"],
                marathi: &["टोमॅटो"],
            },
            Crop::Gram => Spellings {
                latin: &["gram", "chana", "channa", "harbhara", "harbara"],
                hindi: &["चना"],
                marathi: &["हरभरा"],
                ..Spellings::NONE
            },
            Crop::Tur => Spellings {
                latin: &["tur", "toor", "arhar", "tuar", "turi"],
                shared: &["तूर"],
                hindi: &["अरहर", "तुअर"],
                marathi: &["तुरी"],
            },
            Crop::Maize => Spellings {
                latin: &["maize", "corn", "makka", "makki", "maka"],
                hindi: &["मक्का"],
                marathi: &["मका"],
                ..Spellings::NONE
            },
            Crop::Bajra => Spellings {
                latin: &["bajra", "pearl", "bajri"],
                hindi: &["बाजरा"],
                marathi: &["बाजरी"],
                ..Spellings::NONE
            },
            Crop::Jowar => Spellings {
                latin: &["jowar", "jwar", "sorghum", "jwari", "jowari"],
                hindi: &["ज्वार"],
                marathi: &["ज्वारी"],
                ..Spellings::NONE
            },
            Crop::Potato => Spellings {
                latin: &["potato", "aloo", "alu", "batata"],
                hindi: &["आलू"],
                marathi: &["बटाटा"],
                ..Spellings::NONE
            },
            Crop::Groundnut => Spellings {
                latin: &[
                    "groundnut",
                    "peanut",
                    "moongfali",
                    "mungfali",
                    "bhuimug",
                    "shengdana",
                ],
                hindi: &["मूंगफली"],
                marathi: &["भुईमूग", "शेंगदाणा", "शेंगदाणे"],
                ..Spellings::NONE
            },
            Crop::Mustard => Spellings {
                latin: &["mustard", "sarson", "mohari"],
                hindi: &["सरसों"],
                marathi: &["मोहरी"],
                ..Spellings::NONE
            },
        }
    }

    /// Recognize a crop from one normalized word (or a farm's free-text crop name).
    pub fn from_word(word: &str) -> Option<Crop> {
        let word = normalize(word);
        let word = word.trim();
        Crop::ALL
            .into_iter()
            .find(|crop| crop.names().matches(word))
    }
}

/// The spellings of one keyword or crop, by who writes them. Latin spellings (English,
/// Hinglish, Marathi typed in Latin letters) and Devanagari ones shared by Hindi and Marathi
/// name no language; Hindi-only and Marathi-only ones tell a Marathi text from a Hindi one
/// ([`devanagari_language`]).
#[derive(Debug, Clone, Copy)]
struct Spellings {
    latin: &'static [&'static str],
    shared: &'static [&'static str],
    hindi: &'static [&'static str],
    marathi: &'static [&'static str],
}

impl Spellings {
    const NONE: Spellings = Spellings {
        latin: &[],
        shared: &[],
        hindi: &[],
        marathi: &[],
    };

    fn all(self) -> impl Iterator<Item = &'static str> {
        self.latin
            .iter()
            .chain(self.shared)
            .chain(self.hindi)
            .chain(self.marathi)
            .copied()
    }

    /// Whether a normalized word is one of these spellings.
    fn matches(self, word: &str) -> bool {
        self.all().any(|k| normalize(k) == word)
    }

    /// The language only this normalized word's spelling belongs to, if any.
    fn language_of(self, word: &str) -> Option<Language> {
        if self.hindi.iter().any(|k| normalize(k) == word) {
            Some(Language::Hi)
        } else if self.marathi.iter().any(|k| normalize(k) == word) {
            Some(Language::Mr)
        } else {
            None
        }
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

const HELP: Spellings = Spellings {
    latin: &["help", "madad", "madat", "sahayata", "menu", "info"],
    hindi: &["मदद", "सहायता"],
    marathi: &["मदत"],
    ..Spellings::NONE
};
const PRICE: Spellings = Spellings {
    latin: &[
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
        "bajarbhav",
    ],
    shared: &["भाव", "दर"],
    hindi: &["मंडी", "दाम"],
    marathi: &["बाजारभाव"],
};
const WEATHER: Spellings = Spellings {
    latin: &[
        "weather", "mausam", "mosam", "mousam", "havaman", "hawaman", "havamaan",
    ],
    hindi: &["मौसम"],
    marathi: &["हवामान"],
    ..Spellings::NONE
};
const SOIL: Spellings = Spellings {
    latin: &["soil", "mitti", "mati", "maati"],
    hindi: &["मिट्टी", "मिटटी", "माटी"],
    marathi: &["माती"],
    ..Spellings::NONE
};
const MOISTURE: Spellings = Spellings {
    latin: &["moisture", "nami", "olava", "olawa", "oolava"],
    hindi: &["नमी"],
    marathi: &["ओलावा"],
    ..Spellings::NONE
};
const REGISTER: Spellings = Spellings {
    latin: &["reg", "register", "registration", "nondani", "nondni"],
    shared: &["रजिस्टर"],
    hindi: &["पंजीकरण"],
    marathi: &["नोंदणी"],
};
const LANG: Spellings = Spellings {
    latin: &["lang", "language", "bhasha"],
    shared: &["भाषा"],
    ..Spellings::NONE
};
const STOP: Spellings = Spellings {
    latin: &["stop", "band", "unsubscribe"],
    shared: &["बंद"],
    ..Spellings::NONE
};
const START: Spellings = Spellings {
    latin: &["start", "shuru", "suru", "subscribe"],
    hindi: &["शुरू"],
    marathi: &["सुरू"],
    ..Spellings::NONE
};
/// Every command's keywords, for telling Hindi from Marathi.
const KEYWORDS: [Spellings; 9] = [
    HELP, PRICE, WEATHER, SOIL, MOISTURE, REGISTER, LANG, STOP, START,
];

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
    if HELP.matches(first) {
        return Ok(Command::Help);
    }
    if PRICE.matches(first) {
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
    if WEATHER.matches(first) {
        return Ok(Command::Weather);
    }
    if SOIL.matches(first) {
        return Ok(Command::Soil);
    }
    if MOISTURE.matches(first) {
        return Ok(Command::Moisture);
    }
    if STOP.matches(first) {
        return Ok(Command::Stop);
    }
    if START.matches(first) {
        return Ok(Command::Start);
    }
    if LANG.matches(first) {
        let Some(word) = rest.first() else {
            return Err(ParseError::MissingLanguage);
        };
        return parse_language(word)
            .map(Command::Lang)
            .ok_or_else(|| ParseError::UnknownLanguage((*word).to_owned()));
    }
    if REGISTER.matches(first) {
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

/// Devanagari ळ (LLA): Marathi writes it (काळा, तांदूळ, ओळख), Hindi does not.
const MARATHI_LETTER_LLA: char = '\u{0933}';
/// Words of a text read to tell Hindi from Marathi: commands are a few words, and the cost of
/// comparing each word with every keyword and crop name stays bounded.
pub const LANGUAGE_WORDS_MAX: usize = 20;

/// The language of a Devanagari text: Marathi when more of its words are Marathi-only (a
/// Marathi keyword or crop name, or a word with ळ) than Hindi-only, else Hindi (ties and
/// shared words such as भाव, बंद, तूर included). `None` when the text is not mostly Devanagari
/// ([`is_devanagari`]). See the module docs for where this rule is used.
pub fn devanagari_language(text: &str) -> Option<Language> {
    if !is_devanagari(text) {
        return None;
    }
    let (mut hindi, mut marathi) = (0usize, 0usize);
    for word in normalize(text).split(' ').take(LANGUAGE_WORDS_MAX) {
        let spelled = KEYWORDS
            .iter()
            .copied()
            .chain(Crop::ALL.iter().map(|crop| crop.names()))
            .find_map(|spellings| spellings.language_of(word));
        match spelled {
            Some(Language::Hi) => hindi += 1,
            Some(Language::Mr) => marathi += 1,
            _ if word.contains(MARATHI_LETTER_LLA) => marathi += 1,
            _ => {}
        }
    }
    Some(if marathi > hindi {
        Language::Mr
    } else {
        Language::Hi
    })
}

/// The language a text is written in, for a sender the box knows nothing about: Hindi or
/// Marathi for Devanagari ([`devanagari_language`]), English for anything else.
pub fn text_language(text: &str) -> Language {
    devanagari_language(text).unwrap_or(Language::En)
}

/// True when the text is mostly Devanagari (Hindi or Marathi).
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
    fn marathi_keywords_in_devanagari_and_latin() {
        for text in ["मदत", "MADAT", "madat"] {
            check(text, Ok(Command::Help));
        }
        for text in ["हवामान", "HAVAMAN", "Havaman!"] {
            check(text, Ok(Command::Weather));
        }
        for text in ["माती", "MATI", "maati"] {
            check(text, Ok(Command::Soil));
        }
        for text in ["ओलावा", "OLAVA"] {
            check(text, Ok(Command::Moisture));
        }
        for text in ["भाव गहू", "BHAV GAHU", "बाजारभाव गहू", "दर गहू", "गहू"]
        {
            check(text, Ok(Command::Price(Crop::Wheat)));
        }
        for (text, crop) in [
            ("भाव तांदूळ", Crop::Rice),
            ("भाव भात", Crop::Rice),
            ("bhav tandul", Crop::Rice),
            ("भाव कांदा", Crop::Onion),
            ("BHAV KANDA", Crop::Onion),
            ("भाव टोमॅटो", Crop::Tomato),
            ("भाव कापूस", Crop::Cotton),
            ("bhav kapus", Crop::Cotton),
            ("भाव सोयाबीन", Crop::Soybean),
            ("भाव हरभरा", Crop::Gram),
            ("bhav harbhara", Crop::Gram),
            ("भाव तूर", Crop::Tur),
            ("भाव तुरी", Crop::Tur),
            ("भाव भुईमूग", Crop::Groundnut),
            ("bhav bhuimug", Crop::Groundnut),
            ("भाव शेंगदाणा", Crop::Groundnut),
            ("भाव मोहरी", Crop::Mustard),
            ("भाव ऊस", Crop::Sugarcane),
            ("BHAV US", Crop::Sugarcane),
            ("भाव बाजरी", Crop::Bajra),
            ("भाव ज्वारी", Crop::Jowar),
            ("bhav jwari", Crop::Jowar),
            ("भाव मका", Crop::Maize),
            ("भाव बटाटा", Crop::Potato),
            ("BHAV BATATA", Crop::Potato),
        ] {
            check(text, Ok(Command::Price(crop)));
        }
        check("नोंदणी सुनीता काळे", Ok(Command::Register("सुनीता काळे".into())));
        check("NONDANI Asha", Ok(Command::Register("Asha".into())));
        check("सुरू", Ok(Command::Start));
        check("बंद", Ok(Command::Stop));
        for text in [
            "LANG MR",
            "lang mr",
            "भाषा मराठी",
            "LANG marathi",
            "bhasha marathi",
        ] {
            check(text, Ok(Command::Lang(Language::Mr)));
        }
    }

    #[test]
    fn every_crop_name_shown_in_a_reply_parses_back() {
        for crop in Crop::ALL {
            for name in [crop.key(), crop.hindi(), crop.marathi()] {
                assert_eq!(Crop::from_word(name), Some(crop), "{name}");
            }
        }
    }

    #[test]
    fn no_spelling_names_two_crops_or_a_crop_and_a_command() {
        let mut seen = std::collections::BTreeMap::new();
        let crops = Crop::ALL.iter().map(|c| (format!("{c:?}"), c.names()));
        let commands = KEYWORDS
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("command {i}"), *k));
        for (owner, spellings) in crops.chain(commands) {
            for word in spellings.all() {
                let word = normalize(word);
                if let Some(other) = seen.insert(word.clone(), owner.clone()) {
                    assert_eq!(other, owner, "{word:?} spells both");
                }
            }
        }
    }

    #[test]
    fn marathi_is_told_from_hindi_by_its_words() {
        for text in [
            "हवामान",
            "माती",
            "ओलावा",
            "मदत",
            "भाव गहू",
            "भाव कांदा",
            "भाव तांदूळ",
            "नोंदणी सुनीता पवार",
            "REG सुनीता काळे",
            "सुरू",
            "ओलावा किती आहे?",
        ] {
            assert_eq!(devanagari_language(text), Some(Language::Mr), "{text}");
            assert_eq!(text_language(text), Language::Mr, "{text}");
        }
        for text in [
            "मौसम",
            "मिट्टी",
            "नमी",
            "मदद",
            "भाव गेहूं",
            "भाव प्याज",
            "शुरू",
            "REG सुनीता पवार",
            // Shared words only, or a tie: Hindi, as before Marathi had its own replies.
            "भाव तूर",
            "बंद",
            "भाव",
            "मौसम हवामान",
        ] {
            assert_eq!(devanagari_language(text), Some(Language::Hi), "{text}");
        }
        for text in ["HAVAMAN", "bhav kanda", "12345", ""] {
            assert_eq!(devanagari_language(text), None, "{text}");
            assert_eq!(text_language(text), Language::En, "{text}");
        }
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
            let _ = text_language(&text);
        }
    }
}
