//! Localization with Fluent (`fluent-bundle`): one [`Catalog`] per domain (`sms`, `ivr`,
//! `notify`, `otp`), built from `edge/locales/{locale}/{domain}.ftl`, compiled into the binary so a
//! village box never misses a file.
//!
//! Locales: English, Hindi and Marathi are complete (tests check that every domain has the same
//! message ids in every locale and that every message renders in every locale). Farmers whose
//! language has no catalog are answered in English. Where a text in the farmer's language is
//! missing (a weather notice written only in Hindi and English), Marathi readers get the Hindi
//! one before the English one ([`Locale::fallback`]): same script, and widely read in
//! Maharashtra.
//!
//! Arguments arrive as strings; those that are plain whole numbers ("1", "2480", not "0042")
//! are handed to Fluent as numbers so that plural variants (`[0]`, `[one]`, `*[other]`) select
//! by the locale's plural rules; they print exactly as given.
//! Unicode bidi isolation marks are turned off: they would cost two characters per argument
//! and turn every English reply into a UCS-2 one.

use std::collections::BTreeMap;

use farmco_sync::Language;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The locales with catalogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Locale {
    En,
    Hi,
    Mr,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Hi, Locale::Mr];

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Hi => "hi",
            Locale::Mr => "mr",
        }
    }

    /// The catalog to answer a speaker of `language` with.
    pub fn for_language(language: Language) -> Locale {
        match language {
            Language::En => Locale::En,
            Language::Hi => Locale::Hi,
            Language::Mr => Locale::Mr,
            _ => Locale::En,
        }
    }

    /// The language of this locale.
    pub fn language(self) -> Language {
        match self {
            Locale::En => Language::En,
            Locale::Hi => Language::Hi,
            Locale::Mr => Language::Mr,
        }
    }

    /// The locale whose texts a reader of this one takes next when a text (a weather notice,
    /// an advisory) is not written in their language, before English: Hindi for Marathi (same
    /// script, widely read in Maharashtra). English is every locale's last resort.
    pub fn fallback(self) -> Option<Locale> {
        match self {
            Locale::Mr => Some(Locale::Hi),
            Locale::En | Locale::Hi => None,
        }
    }
}

/// Largest whole number handed to Fluent as a number: an `f64` holds every integer up to
/// 2^53 exactly, so the number prints back as the same digits.
const FLUENT_INTEGER_MAX: u64 = 1 << 53;

/// A string argument as Fluent sees it: a number when it is a plain whole number (so plural
/// selectors work), else the string.
fn argument_value(value: &str) -> FluentValue<'static> {
    match value.parse::<i64>() {
        Ok(n) if n.to_string() == value && n.unsigned_abs() <= FLUENT_INTEGER_MAX => {
            FluentValue::from(n)
        }
        _ => FluentValue::from(value.to_owned()),
    }
}

/// Why a catalog could not be built or a message rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L10nError {
    #[error("{locale}: syntax errors in the catalog: {errors}")]
    Syntax {
        locale: &'static str,
        errors: String,
    },
    #[error("{locale}: duplicate messages: {errors}")]
    Duplicate {
        locale: &'static str,
        errors: String,
    },
    #[error("{locale}: no catalog")]
    NoCatalog { locale: &'static str },
    #[error("{locale}: no message {id:?}")]
    MissingMessage { locale: &'static str, id: String },
    #[error("{locale}: rendering {id:?} failed: {errors}")]
    Format {
        locale: &'static str,
        id: String,
        errors: String,
    },
}

/// The messages of one domain in every locale.
pub struct Catalog {
    bundles: BTreeMap<Locale, FluentBundle<FluentResource>>,
    ids: BTreeMap<Locale, Vec<String>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Build a catalog from FTL sources, one per locale.
    pub fn from_sources(sources: &[(Locale, &str)]) -> Result<Catalog, L10nError> {
        let mut bundles = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for (locale, source) in sources {
            let resource = FluentResource::try_new((*source).to_owned()).map_err(|(_, e)| {
                L10nError::Syntax {
                    locale: locale.code(),
                    errors: format!("{e:?}"),
                }
            })?;
            let names: Vec<String> = resource
                .entries()
                .filter_map(|entry| match entry {
                    fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                    _ => None,
                })
                .collect();
            let langid: unic_langid::LanguageIdentifier =
                locale.code().parse().map_err(|_| L10nError::NoCatalog {
                    locale: locale.code(),
                })?;
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|e| L10nError::Duplicate {
                    locale: locale.code(),
                    errors: format!("{e:?}"),
                })?;
            bundles.insert(*locale, bundle);
            ids.insert(*locale, names);
        }
        Ok(Catalog { bundles, ids })
    }

    /// The message ids of a locale, in file order.
    pub fn message_ids(&self, locale: Locale) -> &[String] {
        self.ids.get(&locale).map_or(&[], Vec::as_slice)
    }

    /// Render message `id` with string arguments.
    pub fn render(
        &self,
        locale: Locale,
        id: &str,
        args: &[(&str, String)],
    ) -> Result<String, L10nError> {
        let bundle = self.bundles.get(&locale).ok_or(L10nError::NoCatalog {
            locale: locale.code(),
        })?;
        let pattern = bundle
            .get_message(id)
            .and_then(|m| m.value())
            .ok_or_else(|| L10nError::MissingMessage {
                locale: locale.code(),
                id: id.to_owned(),
            })?;
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, argument_value(value));
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            return Err(L10nError::Format {
                locale: locale.code(),
                id: id.to_owned(),
                errors: format!("{errors:?}"),
            });
        }
        Ok(text.into_owned())
    }
}

/// The domains with catalogs: `edge/locales/{locale}/{domain}.ftl`.
pub const DOMAINS: [&str; 4] = ["sms", "ivr", "notify", "otp"];

/// The FTL sources of a domain, compiled in, one per [`Locale::ALL`].
pub fn embedded_sources(domain: &str) -> Option<[(Locale, &'static str); 3]> {
    match domain {
        "sms" => Some([
            (Locale::En, include_str!("../../locales/en/sms.ftl")),
            (Locale::Hi, include_str!("../../locales/hi/sms.ftl")),
            (Locale::Mr, include_str!("../../locales/mr/sms.ftl")),
        ]),
        "ivr" => Some([
            (Locale::En, include_str!("../../locales/en/ivr.ftl")),
            (Locale::Hi, include_str!("../../locales/hi/ivr.ftl")),
            (Locale::Mr, include_str!("../../locales/mr/ivr.ftl")),
        ]),
        "notify" => Some([
            (Locale::En, include_str!("../../locales/en/notify.ftl")),
            (Locale::Hi, include_str!("../../locales/hi/notify.ftl")),
            (Locale::Mr, include_str!("../../locales/mr/notify.ftl")),
        ]),
        "otp" => Some([
            (Locale::En, include_str!("../../locales/en/otp.ftl")),
            (Locale::Hi, include_str!("../../locales/hi/otp.ftl")),
            (Locale::Mr, include_str!("../../locales/mr/otp.ftl")),
        ]),
        _ => None,
    }
}

/// The SMS catalog (built once; the embedded files are checked by tests).
pub fn sms_catalog() -> Result<&'static Catalog, L10nError> {
    static CATALOG: std::sync::OnceLock<Result<Catalog, L10nError>> = std::sync::OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let sources = embedded_sources("sms").ok_or(L10nError::NoCatalog { locale: "sms" })?;
            Catalog::from_sources(&sources)
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn embedded_catalog(
    cell: &'static std::sync::OnceLock<Result<Catalog, L10nError>>,
    domain: &'static str,
) -> Result<&'static Catalog, L10nError> {
    cell.get_or_init(|| {
        let sources = embedded_sources(domain).ok_or(L10nError::NoCatalog { locale: domain })?;
        Catalog::from_sources(&sources)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The voice menu's catalog (`ivr.ftl`; built once, checked by tests).
pub fn ivr_catalog() -> Result<&'static Catalog, L10nError> {
    static CATALOG: std::sync::OnceLock<Result<Catalog, L10nError>> = std::sync::OnceLock::new();
    embedded_catalog(&CATALOG, "ivr")
}

/// The one-time-code catalog (`otp.ftl`).
pub fn otp_catalog() -> Result<&'static Catalog, L10nError> {
    static CATALOG: std::sync::OnceLock<Result<Catalog, L10nError>> = std::sync::OnceLock::new();
    embedded_catalog(&CATALOG, "otp")
}

/// The notifications' catalog (`notify.ftl`; SMS text and the message read on a call).
pub fn notify_catalog() -> Result<&'static Catalog, L10nError> {
    static CATALOG: std::sync::OnceLock<Result<Catalog, L10nError>> = std::sync::OnceLock::new();
    embedded_catalog(&CATALOG, "notify")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_parse_and_isolation_is_off() {
        let catalog = Catalog::from_sources(&[(Locale::En, "hi = Hello { $name }!")]).unwrap();
        assert_eq!(
            catalog
                .render(Locale::En, "hi", &[("name", "Asha".into())])
                .unwrap(),
            "Hello Asha!"
        );
        assert!(matches!(
            catalog.render(Locale::En, "nope", &[]),
            Err(L10nError::MissingMessage { .. })
        ));
        assert!(matches!(
            catalog.render(Locale::Hi, "hi", &[]),
            Err(L10nError::NoCatalog { .. })
        ));
        assert!(Catalog::from_sources(&[(Locale::En, "= broken")]).is_err());
    }

    #[test]
    fn marathi_speakers_get_marathi() {
        assert_eq!(Locale::for_language(Language::Mr), Locale::Mr);
        assert_eq!(Locale::for_language(Language::Hi), Locale::Hi);
        assert_eq!(Locale::for_language(Language::Ta), Locale::En);
        for locale in Locale::ALL {
            assert_eq!(Locale::for_language(locale.language()), locale);
        }
        assert_eq!(Locale::Mr.fallback(), Some(Locale::Hi));
    }

    #[test]
    fn whole_numbers_select_plurals_and_print_as_given() {
        let source = "n = { $count ->\n    [0] none\n    [one] one\n   *[other] { $count } many\n}";
        let catalog = Catalog::from_sources(&[(Locale::En, source), (Locale::Mr, source)]).unwrap();
        let render = |locale, count: &str| {
            catalog
                .render(locale, "n", &[("count", count.to_owned())])
                .unwrap()
        };
        assert_eq!(render(Locale::En, "0"), "none");
        assert_eq!(render(Locale::En, "1"), "one");
        assert_eq!(render(Locale::Mr, "1"), "one");
        assert_eq!(render(Locale::En, "2480"), "2480 many");
        assert_eq!(render(Locale::En, "-3"), "-3 many");
        // Not plain whole numbers: kept as strings, printed as given.
        assert_eq!(render(Locale::En, "0042"), "0042 many");
        assert_eq!(render(Locale::En, "1.0"), "1.0 many");
        assert_eq!(render(Locale::En, "1e3"), "1e3 many");
        assert_eq!(
            render(Locale::En, "99999999999999999999"),
            "99999999999999999999 many"
        );
    }

    /// The variables a message names, with the variant keys each selects on (empty for a
    /// variable that is only printed).
    fn variables(
        pattern: &fluent_syntax::ast::Pattern<&str>,
        out: &mut BTreeMap<String, Vec<String>>,
    ) {
        use fluent_syntax::ast::{Expression, InlineExpression, PatternElement, VariantKey};
        fn inline(e: &InlineExpression<&str>, out: &mut BTreeMap<String, Vec<String>>) {
            match e {
                InlineExpression::VariableReference { id } => {
                    out.entry(id.name.to_owned()).or_default();
                }
                InlineExpression::Placeable { expression } => expression_of(expression, out),
                _ => {}
            }
        }
        fn expression_of(e: &Expression<&str>, out: &mut BTreeMap<String, Vec<String>>) {
            match e {
                Expression::Inline(i) => inline(i, out),
                Expression::Select { selector, variants } => {
                    inline(selector, out);
                    if let InlineExpression::VariableReference { id } = selector {
                        let keys = out.entry(id.name.to_owned()).or_default();
                        for v in variants {
                            keys.push(match v.key {
                                VariantKey::Identifier { name } => name.to_owned(),
                                VariantKey::NumberLiteral { value } => value.to_owned(),
                            });
                        }
                    }
                    for v in variants {
                        variables(&v.value, out);
                    }
                }
            }
        }
        for element in &pattern.elements {
            if let PatternElement::Placeable { expression } = element {
                expression_of(expression, out);
            }
        }
    }

    #[test]
    fn every_domain_has_the_same_messages_in_every_locale_and_each_renders() {
        for domain in DOMAINS {
            let sources = embedded_sources(domain).unwrap();
            assert_eq!(
                sources.map(|(l, _)| l),
                Locale::ALL,
                "{domain}: a source for every locale"
            );
            let catalog = Catalog::from_sources(&sources).unwrap();
            let en = catalog.message_ids(Locale::En);
            assert!(!en.is_empty(), "{domain}");
            for (locale, source) in sources {
                assert_eq!(
                    catalog.message_ids(locale),
                    en,
                    "{domain}: {} has the same message ids as en, in the same order",
                    locale.code()
                );
                // Every message renders with every variable it names, and every variant of
                // every selector renders too.
                let resource = fluent_syntax::parser::parse(source).unwrap();
                for entry in &resource.body {
                    let fluent_syntax::ast::Entry::Message(message) = entry else {
                        continue;
                    };
                    let id = message.id.name;
                    let mut vars = BTreeMap::new();
                    if let Some(pattern) = &message.value {
                        variables(pattern, &mut vars);
                    }
                    let base: Vec<(&str, String)> =
                        vars.keys().map(|v| (v.as_str(), "2".to_owned())).collect();
                    let mut cases = vec![base.clone()];
                    for (var, keys) in &vars {
                        for key in keys {
                            let mut args = base.clone();
                            for arg in &mut args {
                                if arg.0 == var {
                                    arg.1 = match key.as_str() {
                                        "one" => "1".to_owned(),
                                        "other" => "7".to_owned(),
                                        k => k.to_owned(),
                                    };
                                }
                            }
                            cases.push(args);
                        }
                    }
                    for args in cases {
                        let text = catalog.render(locale, id, &args).unwrap_or_else(|e| {
                            panic!("{domain} {} {id} {args:?}: {e}", locale.code())
                        });
                        assert!(!text.trim().is_empty(), "{domain} {} {id}", locale.code());
                        assert!(
                            !text.contains('{'),
                            "{domain} {} {id}: {text}",
                            locale.code()
                        );
                    }
                }
            }
        }
    }
}
