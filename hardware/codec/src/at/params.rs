//! Splitting the parameter list of an information line (`+CMGL: 1,0,"",24`) into fields:
//! comma separated, strings in double quotes (which may hold commas), empty fields allowed.
//!
//! TS 27.007 strings have no escape for a quote, so a quote always ends a string. Limits:
//! at most [`PARAMETERS_MAX`] fields; no response this crate parses has more than ten.

/// Most fields accepted on one line; more means the line is not what it claims to be.
pub const PARAMETERS_MAX: usize = 32;

/// One field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param<'a> {
    /// A string that was in quotes (quotes removed).
    Quoted(&'a str),
    /// A bare field, trimmed; empty when nothing stood between the commas.
    Bare(&'a str),
}

impl<'a> Param<'a> {
    /// A non-negative decimal number from a bare field.
    pub(crate) fn number<T: TryFrom<u64>>(self) -> Option<T> {
        match self {
            Param::Bare(text) if !text.is_empty() && text.len() <= 10 => {
                let value: u64 = text.parse().ok()?;
                T::try_from(value).ok()
            }
            _ => None,
        }
    }

    /// The text of a quoted field, or of a non-empty bare one (some modems drop quotes).
    pub(crate) fn text(self) -> Option<&'a str> {
        match self {
            Param::Quoted(text) => Some(text),
            Param::Bare("") => None,
            Param::Bare(text) => Some(text),
        }
    }

    /// True for a quoted field.
    pub(crate) fn is_quoted(self) -> bool {
        matches!(self, Param::Quoted(_))
    }

    /// The text of a field, treating an empty one as absent.
    pub(crate) fn optional_text(self) -> Option<&'a str> {
        self.text().filter(|text| !text.is_empty())
    }
}

/// Splits `text` into fields; `None` for an unterminated string, junk after a closing quote,
/// or too many fields.
pub(crate) fn split_params(text: &str) -> Option<Vec<Param<'_>>> {
    let mut params = Vec::new();
    let mut rest = text.trim_start();
    loop {
        if params.len() >= PARAMETERS_MAX {
            return None;
        }
        if let Some(after_quote) = rest.strip_prefix('"') {
            let end = after_quote.find('"')?;
            params.push(Param::Quoted(&after_quote[..end]));
            rest = after_quote[end + 1..].trim_start();
            match rest.strip_prefix(',') {
                Some(after_comma) => rest = after_comma.trim_start(),
                None if rest.is_empty() => return Some(params),
                None => return None,
            }
        } else {
            match rest.find(',') {
                Some(comma) => {
                    params.push(Param::Bare(rest[..comma].trim()));
                    rest = rest[comma + 1..].trim_start();
                }
                None => {
                    params.push(Param::Bare(rest.trim()));
                    return Some(params);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_bare_and_empty_fields() {
        assert_eq!(
            split_params(r#"1,0,"a,b",,24"#),
            Some(vec![
                Param::Bare("1"),
                Param::Bare("0"),
                Param::Quoted("a,b"),
                Param::Bare(""),
                Param::Bare("24"),
            ])
        );
        assert_eq!(split_params(r#""SM""#), Some(vec![Param::Quoted("SM")]));
        assert_eq!(split_params(r#""open"#), None);
        assert_eq!(split_params(r#""a"b"#), None);
        assert_eq!(split_params(""), Some(vec![Param::Bare("")]));
        assert_eq!(split_params(&",".repeat(40)), None);
        assert_eq!(Param::Bare("17").number::<u8>(), Some(17));
        assert_eq!(Param::Bare("300").number::<u8>(), None);
        assert_eq!(Param::Bare("-1").number::<u8>(), None);
    }
}
